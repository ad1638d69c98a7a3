"""Git's smart HTTP protocol, served by git itself: `git upload-pack` / `git receive-pack --stateless-rpc`.

This module is the process side of the bridge and knows nothing of HTTP frameworks: it builds the command
line and environment of each service, starts it, and moves bytes in and out of it asynchronously, so a
pack is streamed through and never held in memory. Request bodies may be gzip-compressed (git compresses
its negotiation requests); they are inflated as they arrive, within a bound.

Pushes are checked before any ref moves by a pre-receive hook (`haven.git.hook`) that git runs with the
received objects still in quarantine. The hook is a thin client: it hands the ref updates and the
quarantine location over a Unix socket to the server process that started this push, which runs the
checks with the database and settings it already has, and answers with a verdict (see `PushGate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SERVICES = (UPLOAD_PACK, RECEIVE_PACK)
CHUNK = 256 * 1024
_PROTOCOL_RE = re.compile(r"^[A-Za-z0-9=:._-]{1,100}$")
# Only what git needs from the server's environment: never the database URL, secret key or tokens.
_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")
HOOK_SCRIPT = """#!/bin/sh
# Installed by Haven: pushes are checked by the Haven server process that started this receive-pack.
exec "${HAVEN_PYTHON:-python3}" -m haven.git.hook "$@"
"""


def pkt_line(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


FLUSH = b"0000"


def protocol_version(git_protocol: str | None) -> int:
    """The wire protocol version a `Git-Protocol` header asks for (0 when absent)."""
    version = 0
    for item in (git_protocol or "").split(":"):
        key, _, value = item.partition("=")
        if key == "version" and value.isdigit():
            version = max(version, int(value))
    return version


def advertisement_prefix(service: str, git_protocol: str | None) -> bytes:
    """What precedes git's own ref advertisement in an info/refs answer (nothing in protocol v2)."""
    if service == UPLOAD_PACK and protocol_version(git_protocol) == 2:
        return b""
    return pkt_line(f"# service={service}\n".encode()) + FLUSH


def content_type(service: str, advertisement: bool) -> str:
    return f"application/x-{service}-{'advertisement' if advertisement else 'result'}"


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]


def hooks_dir(data_dir: Path) -> Path:
    """Haven's hooks directory (core.hooksPath of every receive-pack it runs), written once, atomically.

    One directory for all repositories, existing ones included, outside every repository: a push can only
    run the hooks Haven wrote."""
    root = data_dir / "git-hooks"
    hook = root / "pre-receive"
    try:
        if hook.read_text() == HOOK_SCRIPT and os.access(hook, os.X_OK):
            return root
    except FileNotFoundError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".pre-receive.{secrets.token_hex(4)}"
    tmp.write_text(HOOK_SCRIPT)
    tmp.chmod(0o755)
    os.replace(tmp, hook)
    return root


def base_env(git_protocol: str | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if git_protocol and _PROTOCOL_RE.match(git_protocol):
        env["GIT_PROTOCOL"] = git_protocol
    return env


def upload_pack(repo: Path, *, advertise: bool, git_protocol: str | None) -> Command:
    argv = [
        "git",
        "-c",
        "uploadpack.allowFilter=true",
        "-c",
        "uploadpack.allowAnySHA1InWant=true",
        "upload-pack",
        "--stateless-rpc",
    ]
    if advertise:
        argv.append("--advertise-refs")
    return Command([*argv, "--strict", str(repo)], base_env(git_protocol))


def receive_pack(
    repo: Path,
    *,
    advertise: bool,
    git_protocol: str | None,
    hooks: Path | None = None,
    max_input: int = 0,
    hook_env: dict[str, str] | None = None,
) -> Command:
    """receive-pack with Haven's hooks and object checks; `hook_env` reaches the pre-receive hook."""
    argv = ["git"]
    if hooks is not None:
        argv += ["-c", f"core.hooksPath={hooks}"]
    argv += [
        "-c",
        "receive.fsckObjects=true",
        "-c",
        "receive.denyDeleteCurrent=true",
        "-c",
        "receive.advertisePushOptions=false",
    ]
    if max_input > 0:
        argv += ["-c", f"receive.maxInputSize={max_input}"]
    argv += ["receive-pack", "--stateless-rpc"]
    if advertise:
        argv.append("--advertise-refs")
    env = base_env(git_protocol)
    env.update(hook_env or {})
    return Command([*argv, str(repo)], env)


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class BodyDecoder:
    """Inflates a gzip request body as it arrives (or passes it through), refusing more than `limit` bytes."""

    def __init__(self, encoding: str | None, limit: int) -> None:
        encoding = (encoding or "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding in ("", "identity"):
            self._z = None
        else:
            raise BadBody(f"Unsupported Content-Encoding {encoding!r}")
        self.limit = limit
        self.total = 0

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise BodyTooLarge(f"Request body larger than {self.limit} bytes")
        return data

    def feed(self, data: bytes) -> list[bytes]:
        if self._z is None:
            return [self._count(data)] if data else []
        out = []
        try:
            while data:
                piece = self._z.decompress(data, CHUNK)
                out.append(self._count(piece))
                data = self._z.unconsumed_tail
                if self._z.eof and (data or self._z.unused_data):
                    raise BadBody("Trailing data after the gzip stream")
        except zlib.error as e:
            raise BadBody(f"Invalid gzip body: {e}") from None
        return out

    def finish(self) -> list[bytes]:
        if self._z is None:
            return []
        try:
            rest = self._count(self._z.flush())
        except zlib.error as e:
            raise BadBody(f"Invalid gzip body: {e}") from None
        if not self._z.eof:
            raise BadBody("Truncated gzip body")
        return [rest] if rest else []


@dataclass
class GitProcess:
    """One running git service: write the request to it, read its answer, both as streams."""

    proc: asyncio.subprocess.Process
    _stderr: bytearray = field(default_factory=bytearray)
    _stderr_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, command: Command, stdin: bool = True) -> GitProcess:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=command.env,
            limit=CHUNK,
            start_new_session=True,  # its own process group: a stop reaches index-pack and the hooks too
        )
        self = cls(proc)
        self._stderr_task = asyncio.create_task(self._collect_stderr())
        return self

    async def _collect_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(CHUNK):
            self._stderr += chunk
            del self._stderr[:-16384]  # the tail is what explains a failure

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    async def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def read(self) -> bytes:
        """The next piece of the answer; b"" at its end."""
        assert self.proc.stdout is not None
        return await self.proc.stdout.read(CHUNK)

    async def wait(self) -> int:
        code = await self.proc.wait()
        if self._stderr_task is not None:
            await self._stderr_task
        return code

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group (index-pack, hooks and all), SIGKILL if it lingers."""
        if self.proc.returncode is not None:
            return
        self.close_stdin()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
                return
            except TimeoutError:
                continue


async def run_to_end(command: Command) -> tuple[int, bytes, str]:
    """Run a service without input (a ref advertisement): exit code, stdout, stderr."""
    proc = await GitProcess.start(command, stdin=False)
    chunks = []
    while chunk := await proc.read():
        chunks.append(chunk)
    code = await proc.wait()
    return code, b"".join(chunks), proc.stderr


# --- the pre-receive bridge ------------------------------------------------------------------------------

PushChecker = Callable[[list[tuple[str, str, str]], dict[str, str]], Awaitable[str | None]]


class PushGate:
    """A one-push Unix socket the pre-receive hook reports to; `check` decides (None: accept, else why not).

    The hook sends one JSON line, {"nonce", "updates": [[old, new, ref], ...], "env": {...}} with git's
    quarantine variables; the answer is one JSON line, {"ok": bool, "message": str}."""

    def __init__(self, check: PushChecker) -> None:
        self.check = check
        self.nonce = secrets.token_hex(16)
        self.dir: Path | None = None
        self.server: asyncio.AbstractServer | None = None
        self.called = False

    @property
    def path(self) -> Path:
        assert self.dir is not None, "PushGate used outside `async with`"
        return self.dir / "hook.sock"

    async def __aenter__(self) -> PushGate:
        self.dir = Path(tempfile.mkdtemp(prefix="haven-push-"))  # mode 0700: only this user reaches it
        try:
            self.server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=64 << 20)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """What the hook needs to report here (only valid inside `async with`)."""
        import haven

        return {
            "HAVEN_PYTHON": sys.executable,
            "HAVEN_HOOK_SOCKET": str(self.path),
            "HAVEN_HOOK_NONCE": self.nonce,
            "PYTHONPATH": str(Path(haven.__file__).resolve().parent.parent),
        }

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline())
            if request.get("nonce") != self.nonce or self.called:
                verdict = "Push refused: unexpected hook call"
            else:
                self.called = True
                updates = [(str(o), str(n), str(r)) for o, n, r in request["updates"]]
                env = {str(k): str(v) for k, v in (request.get("env") or {}).items()}
                verdict = await self.check(updates, env)
        except Exception as e:  # a broken check refuses the push rather than letting it through
            import logging

            logging.getLogger("haven").exception("pre-receive check failed")
            verdict = f"Push refused: the server could not check it ({type(e).__name__})"
        answer = {"ok": verdict is None, "message": verdict or ""}
        with contextlib.suppress(ConnectionError):
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        writer.close()
