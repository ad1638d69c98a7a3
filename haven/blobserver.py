"""A tiny HTTP/1.1 server for signed LFS blob URLs that sends file bytes with sendfile(2).

The ASGI server copies every byte through Python (about 0.5 CPU-seconds per GB); the kernel's sendfile
does not. Resolve redirects LFS downloads here, the way the Hub redirects to a CDN: the redirect itself
carries the metadata headers, so clients need nothing from this server but the bytes. Objects that are
not plain blobs (Xet files, rebuilt from chunks) are redirected back to the main server.

It also serves the signed xorb byte ranges that Xet reconstructions point at (/_xet/xorbs/<hash>, the
same URLs and rules as haven.api.xet.xorb_bytes): hf_xet downloads fetch every byte of a file that way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from urllib.parse import parse_qsl, urlsplit

from haven.api.headers import blob_headers
from haven.api.responses import parse_range
from haven.api.signing import Signer
from haven.config import Settings
from haven.errors import HavenError
from haven.storage.local import OID_RE, LocalBlobStore

log = logging.getLogger("haven.blobs")
MAX_HEAD = 16 * 1024
XORBS = "/_xet/xorbs/"  # the path haven.api.xet serves them under: URLs differ only in host and port
REASONS = {
    200: "OK",
    206: "Partial Content",
    307: "Temporary Redirect",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
}


class BlobServer:
    def __init__(self, settings: Settings, main_port: int) -> None:
        self.blobs = LocalBlobStore(settings.blobs_dir)
        self.xorbs = LocalBlobStore(settings.data_dir / "xorbs")  # as Hub.open lays it out
        self.signer = Signer(settings.signing_key(), settings.signed_url_ttl)
        self.main_port = main_port

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            await self._send(writer, 400, {}, close=True)
            return False
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if method not in ("GET", "HEAD"):
            await self._send(writer, 405, {}, close=True)
            return False
        status, out, body = self._answer(target, headers)
        if status == 307:  # back to the main server, on the host name the client used
            host = headers.get("host", "127.0.0.1").rsplit(":", 1)[0]
            out["Location"] = f"http://{host}:{self.main_port}{target}"
        await self._send(writer, status, out, close=not keep)
        if body is not None and method == "GET":
            path, offset, count = body
            with open(path, "rb") as f:
                await asyncio.get_running_loop().sendfile(writer.transport, f, offset, count)
        return keep

    def _answer(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], tuple[str, int, int] | None]:
        url = urlsplit(target)
        if url.path.startswith(XORBS):
            return self._xorb(url.path.removeprefix(XORBS), url.query, headers)
        oid = url.path.removeprefix("/_blobs/")
        if not url.path.startswith("/_blobs/") or not OID_RE.match(oid):
            return 404, {}, None
        try:
            fields = self.signer.verify("blob", dict(parse_qsl(url.query)), ("oid", "commit", "name"))
            if fields["oid"] != oid:
                return 403, {}, None
            path = self.blobs.path(oid)
            size = os.stat(path).st_size
        except HavenError as e:
            return e.status, {}, None
        except FileNotFoundError:
            return 307, {}, None  # a Xet file: the main server rebuilds it from chunks
        out = blob_headers(oid, size, fields)
        out["Accept-Ranges"] = "bytes"
        try:
            byte_range = parse_range(headers.get("range"), size)
        except HavenError as e:
            return e.status, {**e.headers}, None
        start, end = byte_range or (0, size - 1)
        out["Content-Length"] = str(end - start + 1 if size else 0)
        if byte_range is None:
            return 200, out, (str(path), 0, size) if size else None
        out["Content-Range"] = f"bytes {start}-{end}/{size}"
        return 206, out, (str(path), start, end - start + 1)

    def _xorb(
        self, xorb: str, query: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], tuple[str, int, int] | None]:
        """A byte range of a stored xorb, as authorised by a signed URL from a reconstruction: the request's
        Range (or, without one, all of the signed range) must lie within the signed range. No database: the
        signature says the xorb was stored and verified when the URL was made, and xorbs never change."""
        try:
            fields = self.signer.verify("xorb", dict(parse_qsl(query)), ("xorb", "range"))
            if fields["xorb"] != xorb or not OID_RE.match(xorb):
                return 403, {}, None
            lo, hi = (int(x) for x in fields["range"].split("-"))
            path = self.xorbs.path(xorb)
            size = os.stat(path).st_size
            start, end = parse_range(headers.get("range"), size) or (lo, hi)
        except HavenError as e:
            return e.status, {**e.headers}, None
        except FileNotFoundError:
            return 404, {}, None
        if start < lo or end > hi or end >= size:
            return 416, {"Content-Range": f"bytes */{size}"}, None
        out = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "Content-Length": str(end - start + 1),
            "Content-Range": f"bytes {start}-{end}/{size}",
        }
        return 206, out, (str(path), start, end - start + 1)

    async def _send(self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str], close: bool) -> None:
        headers.setdefault("Content-Length", "0")
        if close:
            headers["Connection"] = "close"
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))
        await writer.drain()


async def serve(settings: Settings, main_port: int) -> None:
    server = BlobServer(settings, main_port)
    srv = await asyncio.start_server(server.handle, settings.host, settings.blob_port, limit=MAX_HEAD, backlog=1024)
    async with srv:
        await srv.serve_forever()


def main() -> None:
    """`python -m haven.blobserver MAIN_PORT`, configured by the same HAVEN_* environment as the server."""
    logging.basicConfig(level=logging.INFO)
    asyncio.run(serve(Settings(), int(sys.argv[1])))


if __name__ == "__main__":
    main()
