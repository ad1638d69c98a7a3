"""Rate limits per caller on four buckets, as the Hub has them: `api` (/api/*), `resolve` (file downloads:
/resolve, LFS and Xet transfers, git), `pages` (the web UI) and `inference` (the Inference API).

A caller is its token (or web session) when it sends one, else its address. Every limited response says
where the caller stands in the IETF draft's structured fields (`RateLimit: "api";r=41;t=89` and
`RateLimit-Policy: "api";q=500;w=300`, which huggingface_hub parses into its 429 message); once the bucket
is spent the answer is 429 with Retry-After. A credential the app then rejects (401, or a web session that
does not exist) is also counted against its address, so inventing credentials does not buy fresh buckets.
Tokens are not looked up here (that costs a database query): admins have no exemption.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven.api.deps import credential
from haven.api.errors import error_response
from haven.config import Settings
from haven.errors import InvalidToken
from haven.ratelimit.counters import Tally, WindowCounters

CREDENTIAL_SCOPE = "haven.ratelimit.credential"
SESSION_COOKIE = b"haven_session="
INFERENCE = ("/models/", "/pipeline/", "/v1/chat/completions", "/v1/embeddings")
TYPE_PREFIXES = frozenset({"datasets", "spaces", "models"})


@dataclass(frozen=True)
class Bucket:
    name: str
    limit: int
    window: int

    @property
    def policy(self) -> bytes:
        return f'"{self.name}";q={self.limit};w={self.window}'.encode()

    def standing(self, tally: Tally) -> bytes:
        return f'"{self.name}";r={tally.remaining};t={tally.reset}'.encode()


def buckets(settings: Settings) -> dict[str, Bucket]:
    """The buckets whose limit is on (a limit of 0 turns a bucket off)."""
    configured = [
        Bucket("api", settings.rate_limit_api, settings.rate_limit_api_window),
        Bucket("resolve", settings.rate_limit_resolve, settings.rate_limit_resolve_window),
        Bucket("pages", settings.rate_limit_pages, settings.rate_limit_pages_window),
        Bucket("inference", settings.inference_rate_limit, settings.inference_rate_window),
    ]
    return {b.name: b for b in configured if b.limit > 0}


def bucket_name(method: str, path: str) -> str | None:
    """Which bucket a request draws on; None for static assets and LFS uploads (their commit is counted)."""
    if path.startswith(("/api/", "/datasets-server/")):
        return "api"
    if path.startswith(("/static/", "/_lfs/")):
        return None
    if path.startswith(("/_xet/", "/_blobs/")) or ".git/" in path or path.endswith(".git"):
        return "resolve"
    if method == "POST" and path.startswith(INFERENCE):
        return "inference"
    parts = path.split("/", 5)
    if len(parts) > 4 and (parts[3] == "resolve" or (parts[1] in TYPE_PREFIXES and parts[4] == "resolve")):
        return "resolve"
    return "pages"


class Credential:
    """The credential a request carried, which the app may later find to be made up."""

    __slots__ = ("rejected",)

    def __init__(self) -> None:
        self.rejected = False


def reject_credential(scope: Scope) -> None:
    """Called by the web layer when a session cookie names no session: count the request against the address."""
    held = scope.get(CREDENTIAL_SCOPE)
    if held is not None:
        held.rejected = True


def caller_credential(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token (Authorization) or else the web session id (cookie) the request carries, if any."""
    cookie = None
    for key, value in headers:
        if key == b"authorization":
            try:
                token = credential(value.decode("latin-1"))
            except InvalidToken:
                return None
            return token.encode() if token else None
        if key == b"cookie" and SESSION_COOKIE in value:
            cookie = value.split(SESSION_COOKIE, 1)[1].split(b";", 1)[0].strip()
    return cookie or None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, counters: WindowCounters) -> None:
        self.app = app
        self.buckets = buckets(settings)
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.buckets:
            await self.app(scope, receive, send)
            return
        bucket = self.buckets.get(bucket_name(scope["method"], scope["path"]) or "")
        if bucket is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = (client[0] if client else "?").encode()
        secret = caller_credential(scope["headers"])
        now = time.time()
        held = None
        if secret is None:
            tally = self.counters.hit(b"a\0%s\0%s" % (bucket.name.encode(), address), bucket.limit, bucket.window, now)
        else:
            forged = b"x\0%s\0%s" % (bucket.name.encode(), address)
            if self.counters.peek(forged, bucket.window, now) >= bucket.limit:
                tally = self.counters.hit(forged, bucket.limit, bucket.window, now)
            else:
                tally = self.counters.hit(
                    b"t\0%s\0%s" % (bucket.name.encode(), secret), bucket.limit, bucket.window, now
                )
            held = scope[CREDENTIAL_SCOPE] = Credential()
        headers = [(b"ratelimit", bucket.standing(tally)), (b"ratelimit-policy", bucket.policy)]
        if not tally.allowed:
            await _refuse(bucket, tally)(scope, receive, send)
            return

        async def send_with_standing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
                if held is not None and (held.rejected or message["status"] == 401):
                    self.counters.hit(forged, bucket.limit, bucket.window, now)
            await send(message)

        await self.app(scope, receive, send_with_standing)


def _refuse(bucket: Bucket, tally: Tally) -> ASGIApp:
    message = (
        f"Rate limit reached: {bucket.limit} '{bucket.name}' requests per {bucket.window} s; retry in {tally.reset} s"
    )
    headers = {
        "Retry-After": str(tally.reset),
        "RateLimit": bucket.standing(tally).decode(),
        "RateLimit-Policy": bucket.policy.decode(),
    }
    return error_response(429, message, "RateLimited", headers)
