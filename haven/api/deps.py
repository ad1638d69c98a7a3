"""FastAPI dependencies: the Hub and the calling Actor."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from haven.auth.permissions import Actor, anonymous
from haven.errors import InvalidToken
from haven.hub import Hub
from haven.ops.middleware import note_user


async def get_hub(request: Request) -> Hub:
    """Async (it never blocks): FastAPI runs a sync dependency in a worker thread, a hop per request."""
    return request.app.state.hub


def credential(header: str | None) -> str | None:
    """The token in an Authorization header: `Bearer <token>`, or Basic with the token as password."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidToken() from None
        return decoded.partition(":")[2] or None
    raise InvalidToken()


def get_actor(request: Request) -> Actor:
    token = credential(request.headers.get("authorization"))
    hub: Hub = request.app.state.hub
    if token is None:
        return anonymous(hub.settings.mirror_require_login)
    actor = hub.auth.from_token(token)
    note_user(request.scope, actor.name)  # for the request's log line
    return actor


def cached_actor(hub: Hub, token: str | None) -> Actor | None:
    """The caller with `token` (None: no credentials) if that needs no database, else None: safe on the event
    loop. A token in steady use is looked up again in the background before its cache entry expires (see
    Authenticator.cached), so its requests keep finding it here; on None, resolve the caller in a thread."""
    if token is None:
        return anonymous(hub.settings.mirror_require_login)
    return hub.auth.cached(token, refresh=in_background)


async def actor_of(request: Request) -> Actor:
    """The caller, for ActorDep: on the event loop when cached_actor knows it (no thread hop), else looked up
    in a worker thread."""
    hub: Hub = request.app.state.hub
    actor = cached_actor(hub, credential(request.headers.get("authorization")))
    if actor is None:
        return await run_in_threadpool(get_actor, request)
    note_user(request.scope, actor.name)
    return actor


def in_background(fn: Callable[[], None]) -> None:
    """Run `fn` in the loop's default thread pool, not waiting for it (it handles its own errors)."""
    asyncio.get_running_loop().run_in_executor(None, fn)


HubDep = Annotated[Hub, Depends(get_hub)]
ActorDep = Annotated[Actor, Depends(actor_of)]
