"""Domain errors. Each carries its HTTP status and the Hub's `X-Error-Code`, so front doors render them once."""

from __future__ import annotations


class HavenError(Exception):
    status: int = 500
    code: str | None = None

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def with_status(self, status: int) -> HavenError:
        self.status = status
        return self


class BadRequest(HavenError):
    status = 400


class Unauthorized(HavenError):
    status = 401


class InvalidToken(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Invalid credentials in Authorization header")


class TokenExpired(Unauthorized):
    def __init__(self, expired_at: str) -> None:
        super().__init__(f"Your access token expired on {expired_at}: create a new one")


class Forbidden(HavenError):
    status = 403


class NotFound(HavenError):
    status = 404


class RepoNotFound(NotFound):
    code = "RepoNotFound"

    def __init__(self, message: str = "Repository not found", **kw: object) -> None:
        super().__init__(message, **kw)


class RevisionNotFound(NotFound):
    code = "RevisionNotFound"


class EntryNotFound(NotFound):
    code = "EntryNotFound"


class GatedRepo(HavenError):
    status = 403
    code = "GatedRepo"


class Conflict(HavenError):
    status = 409


class PreconditionFailed(HavenError):
    status = 412


class PayloadTooLarge(HavenError):
    status = 413


class RangeNotSatisfiable(HavenError):
    status = 416
