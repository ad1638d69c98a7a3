"""What hf_xet before 1.3 sends differently (found by the compat matrix): CAS routes without /v1, and upload
shards cut before the footer whose header still announces it. Both must be read as the current client's are."""

from __future__ import annotations

import os
import struct

import httpx
import pytest

from haven.xet.constants import HASH_SIZE, SHARD_FOOTER_SIZE
from haven.xet.hashes import chunk_hash
from haven.xet.shard import FileInfo, Term, cas_info_for_chunks, parse_shard, serialize_shard, zero_unsent_footer
from tests.conftest import Hub


def _shard(footer: bool) -> bytes:
    chunks = [(chunk_hash(os.urandom(8)), 1000 + i) for i in range(3)]
    xorb = os.urandom(32)
    files = [FileInfo(os.urandom(32), (Term(xorb, 3003, 0, 3),), verification=(os.urandom(32),), sha256=os.urandom(32))]
    return serialize_shard(files, [cas_info_for_chunks(xorb, chunks)], footer=footer)


def test_a_shard_cut_before_its_announced_footer_reads_as_footerless() -> None:
    full = _shard(footer=True)
    old_client = full[: len(full) - SHARD_FOOTER_SIZE]  # what hf_xet <= 1.2 uploads: header says footer_size 200
    assert struct.unpack_from("<Q", old_client, HASH_SIZE + 8)[0] == SHARD_FOOTER_SIZE
    fixed = zero_unsent_footer(old_client)
    parsed = parse_shard(fixed)
    assert parsed.footer is None
    assert parsed.files == parse_shard(full).files
    assert bytes(fixed) == _with_footer_size(old_client, 0)


def test_other_shards_are_left_for_the_parser_to_judge() -> None:
    current = _shard(footer=False)
    assert zero_unsent_footer(current) is current  # footer_size 0 already
    full = _shard(footer=True)
    assert zero_unsent_footer(full) is full  # a real footer: parses as is (and is refused as an upload later)
    garbage = _with_footer_size(b"\0" * 48, SHARD_FOOTER_SIZE) + b"\1" * 30
    assert zero_unsent_footer(garbage) is garbage


def _with_footer_size(data: bytes, size: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<Q", out, HASH_SIZE + 8, size)
    return bytes(out)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_xet/shards"),
        ("POST", f"/_xet/xorbs/default/{'a' * 64}"),
        ("HEAD", f"/_xet/xorbs/default/{'a' * 64}"),
        ("GET", f"/_xet/reconstructions/{'a' * 64}"),
        ("GET", f"/_xet/chunks/default/{'a' * 64}"),
    ],
)
def test_unversioned_cas_routes_exist(sqlite_hub: Hub, method: str, path: str) -> None:
    """Without a CAS token each answers 401 like its /v1 twin, not 404 (which hf_xet <= 1.2 treats as fatal)."""
    versioned = path.replace("/_xet/", "/_xet/v1/", 1)
    for url in (path, versioned):
        assert (
            httpx.request(method, sqlite_hub.url + url, content=b"x" if method == "POST" else None).status_code == 401
        )
