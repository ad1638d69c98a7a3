"""A throwaway loopback CAS for interop checks with the real hf_xet client (test-only, never shipped).

Run as ``python -m tests.xet._hf_xet_mock {dedup|download}`` in a fresh process (hf_xet reads its cache and
telemetry settings from the environment once); prints a JSON result on the last line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from haven.xet.chunking import chunk_boundaries
from haven.xet.hashes import chunk_hash, file_hash, hash_to_hex, hex_to_hash, xorb_hash
from haven.xet.shard import cas_info_for_chunks, dedup_response_shard
from haven.xet.xorb import chunk_range_bytes, parse_xorb, serialize_xorb
from tests.xet._vectors import expected, mixed_bin, mixed_edited_bin


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    saved: dict = {}

    def log_message(self, *args: object) -> None:
        pass

    def send(self, code: int, body: bytes = b"", ctype: str = "application/json", headers: tuple = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        for prefix, fn in self.routes.items():
            if self.path.startswith(prefix):
                return fn(self)
        return self.send(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/v1/xorbs/"):
            self.saved[self.path] = body
            return self.send(200, b'{"was_inserted":true}')
        if self.path.startswith("/v2/shards"):
            self.saved["shard"] = body
            return self.send(200, b'{"type":"result","result":1}\n', "application/x-ndjson")
        return self.send(404)  # xorb-grants and telemetry


def _serve(routes: dict) -> str:
    _Handler.routes = routes
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def dedup() -> dict:
    """Answer global dedup for scenario A's first chunk with our HMAC'd shard, then upload scenario B."""
    xorb = expected("A_single_file_lz4_bg4_none")["xorbs"][0]
    leaves = [(hex_to_hash(c["chunk_hash"]), c["uncompressed_size"]) for c in xorb["chunks"]]
    shard = dedup_response_shard([cas_info_for_chunks(hex_to_hash(xorb["xorb_hash"]), leaves)], os.urandom(32))
    first = xorb["chunks"][0]["chunk_hash"]

    def chunks(h: _Handler) -> None:
        h.send(200, shard, "application/octet-stream") if h.path.endswith(first) else h.send(404)

    import hf_xet

    url = _serve({"/v1/chunks/": chunks})
    hf_xet.upload_bytes([mixed_edited_bin()], url, ("token", int(time.time()) + 3600), None, None, "model")
    return {
        "shard": _Handler.saved["shard"].hex(),
        "xorbs": sorted(p.rsplit("/", 1)[1] for p in _Handler.saved if p != "shard"),
    }


def download() -> dict:
    """Serve a file as two terms over one xorb that we serialized ("auto": LZ4, BG4 and raw chunks)."""
    data = mixed_bin() + os.urandom(300_000)
    ends = chunk_boundaries(data)
    chunks = [data[s:e] for s, e in zip([0, *ends], ends, strict=False)]
    leaves = [(chunk_hash(c), len(c)) for c in chunks]
    body = serialize_xorb(chunks, "auto")
    parsed = parse_xorb(body)
    xh, fh, mid = hash_to_hex(xorb_hash(leaves)), hash_to_hex(file_hash(leaves)), len(chunks) // 2

    def reconstruction(h: _Handler) -> None:
        port = h.server.server_address[1]
        spans = [(0, mid), (mid, len(chunks))]
        terms = [
            {"hash": xh, "unpacked_length": sum(len(c) for c in chunks[a:b]), "range": {"start": a, "end": b}}
            for a, b in spans
        ]
        ranges = []
        for a, b in spans:
            first, end = chunk_range_bytes(parsed, a, b)
            ranges.append({"chunks": {"start": a, "end": b}, "bytes": {"start": first, "end": end - 1}})
        fetch = {xh: [{"url": f"http://127.0.0.1:{port}/xorb/{xh}", "ranges": ranges}]}
        h.send(200, json.dumps({"offset_into_first_range": 0, "terms": terms, "xorbs": fetch}).encode())

    def xorb_bytes(h: _Handler) -> None:
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", h.headers.get("Range", ""))
        if not match:
            return h.send(416)
        s, e = int(match[1]), int(match[2])
        return h.send(
            206, body[s : e + 1], "application/octet-stream", (("Content-Range", f"bytes {s}-{e}/{len(body)}"),)
        )

    import hf_xet

    url = _serve({f"/v2/reconstructions/{fh}": reconstruction, f"/xorb/{xh}": xorb_bytes})
    out = os.path.join(tempfile.mkdtemp(), "file.bin")
    info = hf_xet.PyXetDownloadInfo(out, fh, len(data))
    hf_xet.download_files([info], url, ("token", int(time.time()) + 3600), None, None)
    with open(out, "rb") as f:
        return {"identical": f.read() == data, "schemes": sorted({int(c.compression) for c in parsed.chunks})}


if __name__ == "__main__":
    print(json.dumps({"dedup": dedup, "download": download}[sys.argv[1]]()))
