"""Helpers for the CAS tests: raw protocol calls with hub-issued tokens, xorbs and shards built (or forged)
with haven.xet, reassembling files from reconstructions, and snapshots of what the CAS stores."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, create_engine, text

from haven.xet import (
    CASInfo,
    CompressionType,
    FileInfo,
    Term,
    chunk_hash,
    file_hash,
    hash_to_hex,
    hex_to_hash,
    parse_xorb,
    serialize_shard,
    serialize_xorb,
    verification_hash,
    xorb_hash,
)
from haven.xet.shard import cas_info_for_chunks
from haven.xet.xorb import iter_chunk_data
from tests.conftest import Hub

HERE = Path(__file__).parent
PROBE_DIR = HERE / "probe"
OPS = str(HERE / "scripts" / "xet_ops.py")  # absolute: run_script's SCRIPTS / OPS is OPS itself


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_repo(hub: Hub, owner: str = "alice", *, private: bool = False, repo_type: str = "model") -> str:
    repo_id = f"{owner}/x{uuid.uuid4().hex[:10]}"
    hub.api("alice" if owner == "acme" else owner).create_repo(repo_id, private=private, repo_type=repo_type)
    return repo_id


# --- the stock client in a subprocess, Xet on ----------------------------------------------------------


@dataclass
class Probe:
    """What the client subprocesses did (see probe/sitecustomize.py), summed over processes since the last take."""

    path: Path

    def take(self) -> dict[str, int]:
        total: dict[str, int] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                for key, n in json.loads(line).items():
                    total[key] = total.get(key, 0) + n
            self.path.unlink()
        return total


# --- tokens and raw CAS calls -------------------------------------------------------------------------


def token_response(
    hub: Hub, repo_id: str, scope: str, user: str | None = "alice", *, read_only: bool = False, repo_type: str = "model"
) -> httpx.Response:
    headers = {} if user is None else bearer((hub.read_tokens if read_only else hub.tokens)[user])
    return httpx.get(f"{hub.url}/api/{repo_type}s/{repo_id}/xet-{scope}-token/main", headers=headers)


@dataclass
class Cas:
    url: str
    token: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {**bearer(self.token if token is None else token), **kw.pop("headers", {})}
        return self.client.request(method, f"{self.url}{path}", headers=headers, **kw)

    def post_xorb(self, xorb: XorbData | str, body: bytes | None = None, **kw: Any) -> httpx.Response:
        name = xorb if isinstance(xorb, str) else xorb.hash
        data = body if body is not None else xorb.body  # type: ignore[union-attr]
        return self.call("POST", f"/v1/xorbs/default/{name}", content=data, **kw)

    def post_shard(self, shard: bytes, version: int = 1, **kw: Any) -> httpx.Response:
        return self.call("POST", f"/v{version}/shards", content=shard, **kw)

    def reconstruction(self, file_id: str, version: int = 2, byte_range: str | None = None) -> httpx.Response:
        headers = {"Range": f"bytes={byte_range}"} if byte_range else {}
        return self.call("GET", f"/v{version}/reconstructions/{file_id}", headers=headers)

    def upload(self, f: FileData, version: int = 1) -> None:
        for x in f.xorbs:
            r = self.post_xorb(x)
            assert r.status_code == 200, r.text
        r = self.post_shard(f.shard(), version)
        assert r.status_code == 200, r.text


def cas(hub: Hub, repo_id: str, scope: str = "write", user: str = "alice", *, repo_type: str = "model") -> Cas:
    r = token_response(hub, repo_id, scope, user, repo_type=repo_type)
    assert r.status_code == 200, r.text
    body = r.json()
    return Cas(body["casUrl"], body["accessToken"])


def commit_lfs(
    hub: Hub, repo_id: str, files: dict[str, tuple[str, int]], user: str = "alice", repo_type: str = "model"
) -> httpx.Response:
    """A commit adding `path -> (sha256, size)` as LFS pointers, as huggingface_hub sends after a Xet upload."""
    lines = [{"key": "header", "value": {"summary": "xet files"}}]
    lines += [
        {"key": "lfsFile", "value": {"path": p, "algo": "sha256", "oid": oid, "size": size}}
        for p, (oid, size) in files.items()
    ]
    return httpx.post(
        f"{hub.url}/api/{repo_type}s/{repo_id}/commit/main",
        content=b"\n".join(orjson.dumps(line) for line in lines),
        headers={**bearer(hub.tokens[user]), "Content-Type": "application/x-ndjson"},
    )


# --- building xorbs, files and shards -----------------------------------------------------------------


@dataclass
class XorbData:
    chunks: list[bytes]
    body: bytes
    hash: str  # hash string, as in URLs

    @property
    def raw_hash(self) -> bytes:
        return hex_to_hash(self.hash)

    @property
    def pairs(self) -> list[tuple[bytes, int]]:
        return [(chunk_hash(c), len(c)) for c in self.chunks]

    def cas_info(self) -> CASInfo:
        return cas_info_for_chunks(self.raw_hash, self.pairs, num_bytes_on_disk=len(self.body))


def make_xorb(chunks: Sequence[bytes], compression: CompressionType = CompressionType.LZ4) -> XorbData:
    chunks = [bytes(c) for c in chunks]
    root = xorb_hash((chunk_hash(c), len(c)) for c in chunks)
    return XorbData(chunks, serialize_xorb(chunks, compression), hash_to_hex(root))


def file_info(terms: Sequence[Term], xorbs: Sequence[XorbData], sha256: str, *, verification: bool = True) -> FileInfo:
    """A file whose terms select chunks of `xorbs`, with correct verification entries and file hash."""
    pairs = {x.raw_hash: x.pairs for x in xorbs}
    selected = [p for t in terms for p in pairs[t.cas_hash][t.chunk_index_start : t.chunk_index_end]]
    checks = tuple(
        verification_hash(h for h, _ in pairs[t.cas_hash][t.chunk_index_start : t.chunk_index_end]) for t in terms
    )
    return FileInfo(file_hash(selected), tuple(terms), checks if verification else None, hex_to_hash(sha256))


@dataclass
class FileData:
    data: bytes
    xorbs: list[XorbData]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def terms(self) -> list[Term]:
        return [Term(x.raw_hash, sum(map(len, x.chunks)), 0, len(x.chunks)) for x in self.xorbs]

    def info(self) -> FileInfo:
        return file_info(self.terms, self.xorbs, self.sha256)

    @property
    def file_id(self) -> str:
        return hash_to_hex(self.info().file_hash)

    def shard(self) -> bytes:
        return serialize_shard([self.info()], [x.cas_info() for x in self.xorbs])


def make_file(data: bytes, chunk_size: int = 16 * 1024, chunks_per_xorb: int = 1 << 20) -> FileData:
    """`data` cut into fixed-size chunks (the CAS does not require content-defined cuts), packed into xorbs."""
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    groups = [chunks[i : i + chunks_per_xorb] for i in range(0, len(chunks), chunks_per_xorb)]
    return FileData(data, [make_xorb(g) for g in groups])


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


# --- reading files back through the protocol ----------------------------------------------------------


def reassemble(client: httpx.Client, body: dict[str, Any], length: int | None = None) -> bytes:
    """The bytes a reconstruction (v1 or v2 shape) describes: each term's chunks fetched through its signed
    URL with a Range header, decompressed, then trimmed by offset_into_first_range (and `length`)."""
    out = bytearray()
    for term in body["terms"]:
        start, end = term["range"]["start"], term["range"]["end"]
        url, first, base = _fetch_for(body, term["hash"], start, end)
        r = client.get(url, headers={"Range": f"bytes={first[0]}-{first[1]}"})
        assert r.status_code == 206, (r.status_code, r.text)
        assert len(r.content) == first[1] - first[0] + 1
        chunks = list(iter_chunk_data(r.content, parse_xorb(r.content)))
        part = b"".join(chunks[start - base : end - base])
        assert len(part) == term["unpacked_length"]
        out += part
    data = bytes(out[body["offset_into_first_range"] :])
    return data if length is None else data[:length]


def _fetch_for(body: dict[str, Any], xorb: str, start: int, end: int) -> tuple[str, tuple[int, int], int]:
    if "xorbs" in body:  # v2
        for entry in body["xorbs"][xorb]:
            for rng in entry["ranges"]:
                if rng["chunks"]["start"] <= start and end <= rng["chunks"]["end"]:
                    return entry["url"], (rng["bytes"]["start"], rng["bytes"]["end"]), rng["chunks"]["start"]
    else:  # v1
        for entry in body["fetch_info"][xorb]:
            if entry["range"]["start"] <= start and end <= entry["range"]["end"]:
                return entry["url"], (entry["url_range"]["start"], entry["url_range"]["end"]), entry["range"]["start"]
    raise AssertionError(f"no fetch entry covers chunks [{start}, {end}) of {xorb}")


# --- what the CAS holds -------------------------------------------------------------------------------


@functools.cache
def _engine(url: str) -> Engine:
    return create_engine(url)


def engine(hub: Hub) -> Engine:
    return _engine(hub.server.database_url or f"sqlite:///{(hub.server.data_dir / 'haven.db').resolve()}")


def xorb_dir_bytes(hub: Hub) -> int:
    return sum(p.stat().st_size for p in (hub.server.data_dir / "xorbs").rglob("*") if p.is_file())


def storage(hub: Hub) -> dict[str, Any]:
    """Everything a failed upload must leave unchanged: files under xorbs/, and the CAS and LFS-link rows."""
    root = hub.server.data_dir / "xorbs"
    with engine(hub).connect() as c:
        return {
            "xorb_files": {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()},
            "xorbs": set(c.execute(text("SELECT hash, size FROM xet_xorbs"))),
            "files": set(c.execute(text("SELECT hash, sha256 FROM xet_files"))),
            "dedup": set(c.execute(text("SELECT chunk_hash, xorb_hash FROM xet_dedup_chunks"))),
            "links": set(c.execute(text("SELECT repo_id, oid FROM lfs_objects"))),
        }


def xorb_rows_bytes(hub: Hub) -> int:
    with engine(hub).connect() as c:
        return int(c.execute(text("SELECT COALESCE(SUM(size), 0) FROM xet_xorbs")).scalar_one())


def xet_file_shas(hub: Hub) -> set[str]:
    with engine(hub).connect() as c:
        return set(c.execute(text("SELECT sha256 FROM xet_files")).scalars())
