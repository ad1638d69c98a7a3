"""Responses tuned for the Hub protocol: orjson bodies and zero-copy file bodies with exact Range support."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from haven.errors import RangeNotSatisfiable

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a single-range `Range` header asks for; None means the whole body."""
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None  # unsupported forms (multi-range) are answered with the whole body, as RFC 9110 allows
    first, last = m.group(1), m.group(2)
    if first == "":
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable("Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
        return max(size - n, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable("Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end


class FileBody(Response):
    """A file (or a byte range of it). Whole files go out by ASGI pathsend where the server offers it."""

    def __init__(
        self, path: Path, size: int, headers: dict[str, str], byte_range: tuple[int, int] | None, head: bool
    ) -> None:
        self.path, self.size, self.head = path, size, head
        self.start, self.end = byte_range if byte_range else (0, size - 1)
        self.ranged = byte_range is not None
        super().__init__(status_code=206 if self.ranged else 200, headers=headers)
        self.headers["content-length"] = str(self.end - self.start + 1 if size else 0)
        self.headers["accept-ranges"] = "bytes"
        if self.ranged:
            self.headers["content-range"] = f"bytes {self.start}-{self.end}/{size}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self.head or self.size == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        if not self.ranged and "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": str(self.path)})
            return
        fd = await anyio.to_thread.run_sync(os.open, self.path, os.O_RDONLY)
        try:
            offset, remaining = self.start, self.end - self.start + 1
            while remaining > 0:
                chunk = await anyio.to_thread.run_sync(os.pread, fd, min(CHUNK, remaining), offset)
                if not chunk:
                    break
                offset += len(chunk)
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        finally:
            os.close(fd)


def bytes_body(data: bytes, headers: dict[str, str], range_header: str | None, head: bool) -> Response:
    """A small in-memory body (a git blob) with the same Range semantics as files."""
    byte_range = parse_range(range_header, len(data))
    headers = {**headers, "accept-ranges": "bytes"}
    if byte_range is None:
        body, status = data, 200
    else:
        body, status = data[byte_range[0] : byte_range[1] + 1], 206
        headers["content-range"] = f"bytes {byte_range[0]}-{byte_range[1]}/{len(data)}"
    headers["content-length"] = str(len(body))
    if head:
        return _HeadResponse(status, headers)
    return Response(body, status_code=status, headers=headers)


class _HeadResponse(Response):
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(status_code=status)
        self.raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b""})
