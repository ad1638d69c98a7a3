"""git clone, fetch and push over HTTP (the smart protocol), and the Git LFS locks API git-lfs asks for.

Every repository answers at `/{ns}/{name}`, `/datasets/{ns}/{name}` and `/spaces/{ns}/{name}`, with or
without `.git`. Credentials: HTTP Basic with any user name and a Haven token as password, or Bearer.
A private repository is a 401 (asking git for credentials) to anonymous callers and a 404 to those who
may not see it; pushing needs write access, or the right to contribute for pull requests' refs (refs/pr/N). git's own upload-pack and receive-pack answer, streamed
both ways (see haven.git.smart_http); pushes are checked before refs move (haven.repos.push).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from haven.api.common import check_gate, lookup
from haven.api.deps import cached_actor, credential, get_actor
from haven.api.errors import _header_safe
from haven.api.responses import JSON
from haven.auth.permissions import Actor, Permission, can
from haven.errors import HavenError, RepoNotFound, Unauthorized
from haven.git import smart_http
from haven.git.smart_http import (
    RECEIVE_PACK,
    SERVICES,
    UPLOAD_PACK,
    BadBody,
    BodyDecoder,
    BodyTooLarge,
    Command,
    GitProcess,
    PushGate,
)
from haven.git.store import open_repo
from haven.hub import Hub
from haven.mirror.guard import refuse_writes as refuse_mirror_writes
from haven.ops.middleware import note_user
from haven.repos import push
from haven.repos.service import RepoRef

log = logging.getLogger("haven")
router = APIRouter()
REALM = 'Basic realm="Haven"'
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache", "Expires": "0"}
LFS_JSON = "application/vnd.git-lfs+json"
PREFIXES = (("/datasets", "dataset"), ("/spaces", "space"), ("", "model"))
STOP_GRACE = 30.0  # seconds a push whose request failed may take to give up by itself


def _text_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Errors as text/plain: git prints such a body to the user as `remote: ...` lines."""
    hdrs = {"X-Error-Message": _header_safe(message), **NO_CACHE, **(headers or {})}
    return Response(message.rstrip("\n") + "\n", status_code=status, media_type="text/plain", headers=hdrs)


def _error(e: HavenError) -> Response:
    headers = dict(e.headers)
    if e.status == 401:
        headers.setdefault("WWW-Authenticate", REALM)
    return _text_error(e.status, e.message, headers)


def _open(hub: Hub, actor: Actor, repo_type: str, namespace: str, name: str, perm: Permission) -> RepoRef:
    """The repository for a git request, or the error git should see (401 makes it ask for credentials)."""
    name = name.removesuffix(".git")
    try:
        ref = lookup(hub, actor, repo_type, namespace, name, perm)
        if perm is not Permission.READ:
            with hub.db.read() as session:
                refuse_mirror_writes(session, ref.row)
        else:
            check_gate(hub, ref, actor)
    except RepoNotFound:
        if actor.anonymous:  # private, or missing: the same answer, so nothing leaks
            raise Unauthorized("Authentication required (use a Haven token as the password)") from None
        raise
    except HavenError as e:
        if actor.anonymous and e.status == 403:
            raise Unauthorized(f"Authentication required: {e.message}") from None
        raise
    return ref


def _actor_and_open(
    request: Request, actor: Actor | None, repo_type: str, namespace: str, name: str, perm: Permission
) -> tuple[Actor, RepoRef]:
    """In a worker thread: the caller, unless the token cache named it already (`actor`), and the repository."""
    if actor is None:
        actor = get_actor(request)
    return actor, _open(request.app.state.hub, actor, repo_type, namespace, name, perm)


async def _caller_and_repo(
    request: Request, repo_type: str, namespace: str, name: str, perm: Permission
) -> tuple[Actor, RepoRef]:
    """The caller is asked of the token cache on the event loop (a token in steady use is always found there);
    the repository lookup, and the caller's on a miss, take one worker-thread hop together."""
    actor = cached_actor(request.app.state.hub, credential(request.headers.get("authorization")))
    if actor is not None:
        note_user(request.scope, actor.name)
    return await run_in_threadpool(_actor_and_open, request, actor, repo_type, namespace, name, perm)


async def _actor_and_repo(
    request: Request, repo_type: str, namespace: str, name: str, service: str
) -> tuple[Hub, Actor, RepoRef]:
    """Pushing needs the right to contribute: writers push anywhere, contributors to pull requests only
    (refs/pr/N; haven.repos.push checks each ref once it knows them)."""
    perm = Permission.CONTRIBUTE if service == RECEIVE_PACK else Permission.READ
    actor, ref = await _caller_and_repo(request, repo_type, namespace, name, perm)
    return request.app.state.hub, actor, ref


async def info_refs(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    service = request.query_params.get("service")
    if service not in SERVICES:
        return _text_error(403, "Haven serves git's smart HTTP protocol only; please use git 1.6.6 or newer")
    protocol = request.headers.get("git-protocol")
    try:
        _, _, ref = await _actor_and_repo(request, repo_type, namespace, name, service)
    except HavenError as e:
        return _error(e)
    if service == UPLOAD_PACK:
        command = smart_http.upload_pack(ref.path, advertise=True, git_protocol=protocol)
    else:
        command = smart_http.receive_pack(ref.path, advertise=True, git_protocol=protocol)
    code, out, err = await smart_http.run_to_end(command)
    if code != 0:
        log.error("git %s --advertise-refs failed for %s: %s", service, ref.full_id, err.strip())
        return _text_error(500, "The repository could not be read")
    body = smart_http.advertisement_prefix(service, protocol) + out
    return Response(body, media_type=smart_http.content_type(service, True), headers=NO_CACHE)


async def rpc(request: Request, repo_type: str, namespace: str, name: str, service: str) -> Response:
    protocol = request.headers.get("git-protocol")
    expected = f"application/x-{service}-request"
    if request.headers.get("content-type", expected).split(";")[0].strip().lower() != expected:
        return _text_error(415, f"Expected Content-Type {expected}")
    try:
        hub, actor, ref = await _actor_and_repo(request, repo_type, namespace, name, service)
        decoder = BodyDecoder(request.headers.get("content-encoding"), hub.settings.max_request_body)
    except HavenError as e:
        return _error(e)
    except BadBody as e:
        return _text_error(415, str(e))
    if service == UPLOAD_PACK:
        command = smart_http.upload_pack(ref.path, advertise=False, git_protocol=protocol)
        return GitRpc(service, command, decoder)

    async def check(updates: list[tuple[str, str, str]], quarantine: dict[str, str]) -> str | None:
        ref_updates = [push.RefUpdate(old, new, ref_name) for old, new, ref_name in updates]
        may_write = can(actor, Permission.WRITE, ref.row)
        return await run_in_threadpool(push.check_push, hub, ref, ref_updates, quarantine, may_write)

    before = await run_in_threadpool(lambda: open_repo(ref.path).refs())
    command = smart_http.receive_pack(
        ref.path,
        advertise=False,
        git_protocol=protocol,
        hooks=await run_in_threadpool(smart_http.hooks_dir, hub.settings.data_dir),
        max_input=hub.settings.max_request_body,
    )

    def after() -> None:
        push.after_push(hub, RepoRef(ref.row, open_repo(ref.path), ref.path), before, actor)

    return GitRpc(service, command, decoder, gate=PushGate(check), after=after)


class GitRpc(Response):
    """The answer to one POST: git's output streamed back while the request body is streamed into it.

    The status line waits for git's first output, so a body refused before then (too large, bad gzip) still
    gets its own status. A push, once started, runs to its end even if the client goes away (so the ref
    updates and the metadata after them stay together); a fetch is stopped."""

    def __init__(
        self,
        service: str,
        command: Command,
        decoder: BodyDecoder,
        gate: PushGate | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.command = command
        self.decoder = decoder
        self.gate = gate
        self.after = after
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [
            (b"content-type", smart_http.content_type(service, False).encode()),
            *((k.lower().encode(), v.encode()) for k, v in NO_CACHE.items()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.service == RECEIVE_PACK:
            # Shielded: a cancelled request must not cut a push between its ref updates and the metadata.
            await asyncio.shield(asyncio.ensure_future(self._run(receive, send)))
        else:
            await self._run(receive, send)

    async def _run(self, receive: Receive, send: Send) -> None:
        state = _Exchange(send, self.raw_headers)
        async with self.gate or contextlib.nullcontext():
            command = self.command
            if self.gate is not None:  # the pre-receive hook learns where to report
                command = Command(command.argv, {**command.env, **self.gate.env()})
            proc = await GitProcess.start(command)
            feeder = asyncio.ensure_future(self._feed(proc, receive, state))
            try:
                while chunk := await proc.read():
                    if state.failure is None:
                        await state.reply(chunk, True)
                    if state.gone and self.service == UPLOAD_PACK:
                        await proc.stop()
                code = await proc.wait()
                if not feeder.done():  # git is done with its input: no need to read the rest
                    feeder.cancel()
                await asyncio.wait([feeder])
                if not feeder.cancelled() and feeder.exception() is not None:
                    log.error("feeding git %s failed", self.service, exc_info=feeder.exception())
            finally:
                if proc.proc.returncode is None:  # cancelled
                    feeder.cancel()
                    await proc.stop()
        if code != 0:
            log.info("git %s exited with %s: %s", self.service, code, proc.stderr.strip()[-2000:])
        if self.after is not None:
            try:
                await run_in_threadpool(self.after)
            except Exception:
                log.exception("recording a push failed")
        await state.finish(code, proc.stderr)

    async def _feed(self, proc: GitProcess, receive: Receive, state: _Exchange) -> None:
        """The request body into git's stdin, inflated and bounded; on any failure git is stopped."""
        try:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    state.gone = True
                    raise BadBody("The client disconnected before the end of the request")
                for piece in self.decoder.feed(message.get("body", b"")):
                    await proc.write(piece)
                if not message.get("more_body", False):
                    break
            for piece in self.decoder.finish():
                await proc.write(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # git stopped reading: its answer says why
        except BodyTooLarge as e:
            state.failure = (413, str(e))
        except BadBody as e:
            state.failure = (400, str(e))
        except HTTPException as e:  # the server-wide body limit
            state.failure = (e.status_code, str(e.detail))
        finally:
            proc.close_stdin()
        if state.failure is not None:
            if self.service == UPLOAD_PACK:
                await proc.stop()
            else:
                # receive-pack sees its input end early and fails by itself, removing its quarantine; a
                # signal could interrupt that cleanup (its index-pack racing it), so it is only the fallback.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.proc.wait()), STOP_GRACE)
                await proc.stop()


class _Exchange:
    """The response side of one POST: started or not, and whether the client is still there."""

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.headers = headers
        self.started = False
        self.gone = False
        self.failure: tuple[int, str] | None = None

    async def reply(self, chunk: bytes, more: bool) -> None:
        if self.gone:
            return
        try:
            if not self.started:
                self.started = True
                await self.send({"type": "http.response.start", "status": 200, "headers": self.headers})
            await self.send({"type": "http.response.body", "body": chunk, "more_body": more})
        except Exception:  # the connection is gone, however the server says it
            self.gone = True

    async def finish(self, code: int, stderr: str) -> None:
        if self.gone:
            return
        if self.started:
            await self.reply(b"", False)
            return
        if self.failure is not None:
            status, message = self.failure
        elif code != 0:
            status, message = 500, "git failed: " + (stderr.strip().splitlines() or ["no output"])[-1]
        else:
            await self.reply(b"", False)
            return
        response = _text_error(status, message)
        with contextlib.suppress(Exception):
            await response({"type": "http"}, _no_receive, self.send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


# --- Git LFS locks: git-lfs verifies locks before every push ------------------------------------------


def _lfs_json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSON:
    return JSON(content, status_code=status, headers={"Content-Type": LFS_JSON, **(headers or {})})


async def _lfs_access(request: Request, repo_type: str, namespace: str, name: str, perm: Permission) -> JSON | None:
    """None if the caller may use the locks API of this repository, else the LFS error answer."""
    try:
        await _caller_and_repo(request, repo_type, namespace, name, perm)
    except HavenError as e:
        headers = {"LFS-Authenticate": REALM} if e.status == 401 else {}
        return _lfs_json({"message": e.message}, e.status, headers)
    return None


async def locks_verify(request: Request, repo_type: str, namespace: str, name: str) -> JSON:
    """git-lfs asks this before every push. 501 Not Implemented makes it turn lock verification off for this
    remote (lfs.<url>.locksverify=false in the clone's config) and push on, without a word."""
    denied = await _lfs_access(request, repo_type, namespace, name, Permission.CONTRIBUTE)  # contributors push too
    return denied or _lfs_json({"message": "File locking is not supported by this server"}, 501)


async def locks_list(request: Request, repo_type: str, namespace: str, name: str) -> JSON:
    return await _lfs_access(request, repo_type, namespace, name, Permission.READ) or _lfs_json({"locks": []})


async def locks_unsupported(request: Request, repo_type: str, namespace: str, name: str) -> JSON:
    denied = await _lfs_access(request, repo_type, namespace, name, Permission.WRITE)
    return denied or _lfs_json({"message": "File locking is not supported by this server"}, 501)


def _route(handler: Callable[..., Awaitable[Response]], repo_type: str, **fixed: str) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        p = request.path_params
        return await handler(request, repo_type, p["namespace"], p["name"], **fixed)

    endpoint.__doc__ = handler.__doc__
    return endpoint


for _prefix, _type in PREFIXES:
    base = f"{_prefix}/{{namespace}}/{{name}}"
    router.add_route(f"{base}/info/refs", _route(info_refs, _type), methods=["GET"], include_in_schema=False)
    for _service in SERVICES:
        router.add_route(
            f"{base}/{_service}", _route(rpc, _type, service=_service), methods=["POST"], include_in_schema=False
        )
    lfs = f"{_prefix}/{{namespace}}/{{name}}.git/info/lfs/locks"
    router.add_route(f"{lfs}/verify", _route(locks_verify, _type), methods=["POST"], include_in_schema=False)
    router.add_route(lfs, _route(locks_list, _type), methods=["GET"], include_in_schema=False)
    router.add_route(lfs, _route(locks_unsupported, _type), methods=["POST"], include_in_schema=False)
    router.add_route(
        f"{lfs}/{{lock_id}}/unlock", _route(locks_unsupported, _type), methods=["POST"], include_in_schema=False
    )
