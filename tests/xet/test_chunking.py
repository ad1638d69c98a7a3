"""Chunker vectors: raw gearhash, xet-core/huggingface.js boundary tables, streaming, and the spec oracle."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.xet.chunking import Chunker, chunk_boundaries, chunk_boundaries_reference, iter_chunks
from haven.xet.constants import GEAR_TABLE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE
from haven.xet.hashes import chunk_hash, hash_to_hex
from tests.xet._vectors import M64, lcg24, load, splitmix64

CHUNKING = load("extracted-test-vectors/chunking.json")
TRIGGER = CHUNKING["triggering_cases"]


def _input(spec: dict) -> bytes:
    if spec["generator"] == "splitmix64":
        return splitmix64(spec["n"], spec["seed"])
    if spec["generator"] == "constant":
        return bytes([spec["byte"]]) * spec["n"]
    raise AssertionError(spec)


def _triggering(padding: int) -> bytes:
    unit = bytes(TRIGGER["pattern"]) + bytes(padding)
    n = TRIGGER["n"]
    return (unit * (n // len(unit) + 1))[:n]


def _spans(bounds: list[int]) -> list[tuple[int, int]]:
    return list(zip([0, *bounds][: len(bounds)], bounds, strict=True))


def test_raw_gearhash_matches() -> None:
    """The table and update rule alone (no min/max, other mask), per huggingface.js' Rust reference."""
    vec = load("extracted-test-vectors/gearhash_raw.json")
    data = lcg24(vec["input"]["n"], int(vec["input"]["seed"], 16))
    assert hashlib.sha256(data).hexdigest() == vec["input"]["sha256"]
    mask = int(vec["mask"], 16)
    found, h, start = [], 0, 0
    for i, b in enumerate(data):
        h = ((h << 1) + GEAR_TABLE[b]) & M64
        if h & mask == 0:
            found.append({"offset": start, "size": i + 1 - start, "hash_after_match": f"0x{h:016x}"})
            start, h = i + 1, 0
    found.append({"offset": start, "size": len(data) - start, "hash_after_match": f"0x{h:016x}"})
    assert found == vec["matches"]


@pytest.mark.parametrize("case", CHUNKING["cases"], ids=lambda c: c["name"])
def test_boundary_vectors(case: dict) -> None:
    data = _input(case["input"])
    if "sha256" in case["input"]:
        assert hashlib.sha256(data).hexdigest() == case["input"]["sha256"]
    for pos, byte in case["input"].get("check_bytes", {}).items():
        assert data[int(pos)] == byte
    assert chunk_boundaries(data) == case["boundaries"]
    if "chunk_hashes" in case:
        assert [hash_to_hex(chunk_hash(data[s:e])) for s, e in _spans(case["boundaries"])] == case["chunk_hashes"]


@pytest.mark.parametrize("case", TRIGGER["cases"], ids=lambda c: f"pad{c['padding']}")
def test_triggering_vectors(case: dict) -> None:
    data = _triggering(case["padding"])
    assert data[11111] == case["byte_at_11111"]
    assert chunk_boundaries(data) == case["boundaries"]


def test_legacy_table_differs_from_current_behaviour() -> None:
    """The huggingface.js table predates xet-core PR #487; we must disagree with it where it is flagged."""
    legacy = TRIGGER["legacy_table_warning"]["legacy_boundaries"]
    current_rows = {c["padding"]: c["boundaries"] for c in TRIGGER["cases"]}
    for padding, old in legacy.items():
        current = chunk_boundaries(_triggering(int(padding)))
        assert current == current_rows[int(padding)] != old
        assert all(b - a >= MIN_CHUNK_SIZE for a, b in _spans(current)[:-1])


@pytest.mark.parametrize("piece", [1, 37, 255, 4096, 100_000])
def test_streaming_pieces_do_not_change_boundaries(piece: int) -> None:
    case = next(c for c in CHUNKING["cases"] if c["name"] == "random_256000_splitmix64_seed1")
    data = _input(case["input"])
    chunker = Chunker()
    chunks: list[bytes] = []
    for i in range(0, len(data), piece):
        chunks += chunker.update(data[i : i + piece])
    chunks += chunker.finish()
    assert b"".join(chunks) == data
    ends = []
    for c in chunks:
        ends.append((ends[-1] if ends else 0) + len(c))
    assert ends == case["boundaries"]


def test_iter_chunks_and_memory_shape() -> None:
    data = splitmix64(3_000_000, 9)
    blocks = (data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20))
    chunks = list(iter_chunks(blocks))
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks] == [e - s for s, e in _spans(chunk_boundaries(data))]
    assert all(MIN_CHUNK_SIZE <= len(c) <= MAX_CHUNK_SIZE for c in chunks[:-1])


def test_chunker_rejects_update_after_finish() -> None:
    chunker = Chunker()
    assert chunker.finish() == []
    with pytest.raises(RuntimeError):
        chunker.update(b"x")


def test_edges() -> None:
    assert chunk_boundaries(b"") == []
    assert chunk_boundaries(b"a") == [1]
    assert chunk_boundaries(bytes(MIN_CHUNK_SIZE - 1)) == [MIN_CHUNK_SIZE - 1]
    assert chunk_boundaries(bytes(MAX_CHUNK_SIZE)) == chunk_boundaries_reference(bytes(MAX_CHUNK_SIZE))


def _low_entropy(seed: int, n: int) -> bytes:
    """Data whose gear hash hits the mask often, so the min/max rules are exercised densely."""
    unit = bytes(TRIGGER["pattern"]) + bytes(seed % 97)
    return (unit * (n // len(unit) + 1))[:n]


@pytest.mark.parametrize("n", [MIN_CHUNK_SIZE, MIN_CHUNK_SIZE + 1, 70_000, 300_000])
def test_fast_path_matches_spec_pseudocode(n: int) -> None:
    for data in (os.urandom(n), _low_entropy(n, n), bytes(n), splitmix64(n, n)):
        assert chunk_boundaries(data) == chunk_boundaries_reference(data)


@settings(max_examples=25, deadline=None, database=None)
@given(
    st.integers(min_value=0, max_value=400_000),
    st.integers(min_value=0, max_value=2**32),
    st.lists(st.integers(min_value=1, max_value=90_000), min_size=1, max_size=8),
)
def test_fast_path_matches_oracle_under_random_splits(n: int, seed: int, pieces: list[int]) -> None:
    data = splitmix64(n, seed) if seed % 2 else _low_entropy(seed, n)
    expected = chunk_boundaries_reference(data)
    assert chunk_boundaries(data) == expected
    chunker, out, pos, k = Chunker(), [], 0, 0
    while pos < n:
        step = pieces[k % len(pieces)]
        out += chunker.update(data[pos : pos + step])
        pos, k = pos + step, k + 1
    out += chunker.finish()
    assert [len(c) for c in out] == [e - s for s, e in _spans(expected)]
