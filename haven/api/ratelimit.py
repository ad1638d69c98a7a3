"""Rate limits per caller on four buckets, as the Hub has them: `api` (/api/*), `resolve` (file downloads:
/resolve, LFS and Xet transfers, git), `pages` (the web UI) and `inference` (the Inference API).

A caller is its token (on web pages: its web session) when it sends one, else its address. Every limited
response says where the caller stands in the IETF draft's structured fields (`RateLimit: "api";r=41;t=89` and
`RateLimit-Policy: "api";q=500;w=300`, which huggingface_hub parses into its 429 message); once the bucket
is spent the answer is 429 with Retry-After. A credential the app then rejects (401, or a web session that
does not exist) is also counted against its address, so inventing credentials does not buy fresh buckets.
Tokens are not looked up here (that costs a database query): admins have no exemption.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven.api.deps import credential
from haven.api.errors import error_response
from haven.config import Settings
from haven.errors import InvalidToken
from haven.ratelimit.counters import Tally, WindowCounters

CREDENTIAL_SCOPE = "haven.ratelimit.credential"
SESSION_COOKIE = b"haven_session="
INFERENCE = ("/models/", "/pipeline/", "/v1/chat/completions", "/v1/embeddings")
TYPE_PREFIXES = ("/datasets/", "/spaces/", "/models/")
HEALTH = "/api/health"  # load balancers' probes must never be refused


class Bucket:
    """One bucket's limit per window, with its header value and counter-key prefix built once (they are on
    the path of every request)."""

    __slots__ = ("limit", "name", "policy", "prefix", "window")

    def __init__(self, name: str, limit: int, window: int) -> None:
        self.name, self.limit, self.window = name, limit, window
        self.policy = f'"{name}";q={limit};w={window}'.encode()
        self.prefix = name.encode()

    def standing(self, tally: Tally) -> bytes:
        return b'"%s";r=%d;t=%d' % (self.prefix, tally.remaining, tally.reset)


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
    """Which bucket a request draws on; None for the health probe, static assets and LFS uploads (their
    commit is counted)."""
    at = path.find("/resolve/")  # the hot path first: /{ns}/{name}/resolve/... or /datasets/{ns}/{name}/resolve/...
    if at > 0 and not path.startswith("/api/"):
        depth = path.count("/", 0, at)
        if depth == 2 or (depth == 3 and path.startswith(TYPE_PREFIXES)):
            return "resolve"
    if path.startswith(("/api/", "/datasets-server/")):
        return None if path == HEALTH else "api"
    if path.startswith(("/static/", "/_lfs/")):
        return None
    if path.startswith(("/_xet/", "/_blobs/")) or ".git/" in path or path.endswith(".git"):
        return "resolve"
    if method == "POST" and path.startswith(INFERENCE):
        return "inference"
    return "api" if path.startswith("/v1/") else "pages"


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


def caller_credential(headers: list[tuple[bytes, bytes]], web: bool) -> bytes | None:
    """The credential that names the caller where the request goes: the web session id (cookie) for web
    pages, the token (Authorization) everywhere else; each is ignored where the app does not check it, or a
    made-up one would buy a fresh bucket unnoticed."""
    wanted = b"cookie" if web else b"authorization"
    for key, value in headers:
        if key != wanted:
            continue
        if web:
            if SESSION_COOKIE in value:
                return value.split(SESSION_COOKIE, 1)[1].split(b";", 1)[0].strip() or None
            continue
        if value[:7].lower() == b"bearer ":  # the common case, without decoding
            return value[7:].strip() or None
        try:
            token = credential(value.decode("latin-1"))
        except InvalidToken:
            return None
        return token.encode() if token else None
    return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, counters: WindowCounters) -> None:
        self.app = app
        self.buckets = buckets(settings)
        self.pages = self.buckets.get("pages")
        self.counters = counters
        # Addresses this process saw send a rejected credential: only their credentialed requests pay for
        # a look at the address's count of rejections.
        self.suspects: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bucket = (
            self.buckets.get(bucket_name(scope["method"], scope["path"]) or "") if scope["type"] == "http" else None
        )
        if bucket is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = (client[0] if client else "?").encode()
        secret = caller_credential(scope["headers"], bucket is self.pages)
        now = time.time()
        rejected_key = b"x\0%s\0%s" % (bucket.prefix, address)
        if secret is None:
            tally = self.counters.hit(b"a\0%s\0%s" % (bucket.prefix, address), bucket.limit, bucket.window, now)
        elif address in self.suspects and self.counters.peek(rejected_key, bucket.window, now) >= bucket.limit:
            tally = self.counters.hit(rejected_key, bucket.limit, bucket.window, now)  # refused: spent on fakes
        else:
            tally = self.counters.hit(b"t\0%s\0%s" % (bucket.prefix, secret), bucket.limit, bucket.window, now)
        if not tally.allowed:
            await _refuse(bucket, tally)(scope, receive, send)
            return
        held = scope[CREDENTIAL_SCOPE] = Credential() if secret is not None else None
        headers = [(b"ratelimit", bucket.standing(tally)), (b"ratelimit-policy", bucket.policy)]

        async def send_with_standing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
                if held is not None and (held.rejected or message["status"] == 401):
                    self.counters.hit(rejected_key, bucket.limit, bucket.window, now)
                    if len(self.suspects) > 100_000:
                        self.suspects.clear()
                    self.suspects.add(address)
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
