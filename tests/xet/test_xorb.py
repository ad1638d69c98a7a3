"""Xorb vectors (hf-xet 1.8.0 uploads), BG4, validation failures, serialization round trips, and fuzzing."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

import pytest
from hypothesis import example, given

from haven.xet.compression import CompressionType, bg4_join, bg4_split, compress_chunk, lz4_compress
from haven.xet.constants import MAX_CHUNK_SIZE, XORB_MAX_CHUNKS, XORB_MAX_SIZE
from haven.xet.errors import XetFormatError
from haven.xet.hashes import chunk_hash, hash_to_hex, xorb_hash
from haven.xet.xorb import (
    chunk_byte_ranges,
    chunk_range_bytes,
    decompress_chunk,
    iter_chunk_data,
    parse_xorb,
    serialize_xorb,
    validate_xorb,
)
from tests.xet._fuzz import FUZZ_SETTINGS, fuzz_inputs, seeds
from tests.xet._vectors import GENERATED, SCENARIOS, expected, load, scenario_input

XORB_CASES = [(s, x) for s in SCENARIOS for x in expected(s)["xorbs"]]


def _xorb_bytes(scenario: str, xorb: dict) -> bytes:
    return (GENERATED / scenario / xorb["file"]).read_bytes()


def _header(compressed: int, ctype: int, raw: int, version: int = 0) -> bytes:
    return bytes([version]) + compressed.to_bytes(3, "little") + bytes([ctype]) + raw.to_bytes(3, "little")


@pytest.mark.parametrize(("scenario", "xorb"), XORB_CASES, ids=lambda v: v if isinstance(v, str) else v["file"][:8])
def test_hf_xet_xorbs_parse_and_validate(scenario: str, xorb: dict) -> None:
    data = _xorb_bytes(scenario, xorb)
    assert Path(xorb["file"]).stem == xorb["xorb_hash"]
    assert len(data) == xorb["serialized_size"]
    parsed = validate_xorb(data, xorb["xorb_hash"])
    assert hash_to_hex(parsed.hash) == xorb["xorb_hash"]
    assert parsed.raw_size == xorb["raw_size"] and len(parsed.chunks) == xorb["num_chunks"]
    got = [
        (c.index, c.offset, c.version, c.compressed_size, int(c.compression), c.compression.name, c.uncompressed_size)
        for c in parsed.chunks
    ]
    names = {"NONE": "None", "LZ4": "LZ4", "BG4_LZ4": "ByteGrouping4LZ4"}
    want = [
        (
            c["index"],
            c["header_offset"],
            c["version"],
            c["compressed_size"],
            c["compression_type"],
            next(k for k, v in names.items() if v == c["compression_name"]),
            c["uncompressed_size"],
        )
        for c in xorb["chunks"]
    ]
    assert got == want
    assert [hash_to_hex(c.hash) for c in parsed.chunks] == [c["chunk_hash"] for c in xorb["chunks"]]
    # The chunks are the input file's chunks: the decompressed bytes appear in it at the listed offsets.
    content = scenario_input(scenario)
    by_hash = {c["chunk_hash"]: c for f in expected(scenario)["files"] for c in f["chunks"]}
    for c, raw in zip(parsed.chunks, iter_chunk_data(data, parsed), strict=True):
        spot = by_hash[hash_to_hex(c.hash)]
        assert content[spot["offset"] : spot["offset"] + spot["length"]] == raw


def test_scenario_a_covers_all_three_schemes() -> None:
    scenario, xorb = XORB_CASES[0]
    kinds = {c.compression for c in parse_xorb(_xorb_bytes(scenario, xorb)).chunks}
    assert kinds == {CompressionType.NONE, CompressionType.LZ4, CompressionType.BG4_LZ4}


def test_we_write_lz4_frames_like_hf_xet() -> None:
    scenario, xorb = XORB_CASES[0]
    data = _xorb_bytes(scenario, xorb)
    first = parse_xorb(data).chunks[0]
    theirs = data[first.data_offset : first.data_offset + 7]
    assert theirs[:4] == b"\x04\x22\x4d\x18"  # LZ4 frame magic
    assert lz4_compress(b"x" * 1000)[:7] == theirs  # same FLG/BD/header checksum: independent 64 KiB blocks


def test_bg4_vectors() -> None:
    for case in load("extracted-test-vectors/bg4.json")["cases"]:
        assert bg4_split(bytes(case["input"])) == bytes(case["split"])
        assert bg4_join(bytes(case["split"])) == bytes(case["input"])
    for n in range(0, 40):
        data = os.urandom(n)
        assert bg4_join(bg4_split(data)) == data


def test_ranges_match_header_offsets() -> None:
    scenario, xorb = XORB_CASES[0]
    data = _xorb_bytes(scenario, xorb)
    parsed = parse_xorb(data)
    ranges = chunk_byte_ranges(parsed)
    assert [s for s, _ in ranges] == [c["header_offset"] for c in xorb["chunks"]]
    assert ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert chunk_range_bytes(parsed, 2, 5) == (ranges[2][0], ranges[4][1])
    # A byte range served to a client parses on its own and yields the same chunks.
    start, end = chunk_range_bytes(parsed, 2, 5)
    piece = data[start:end]
    assert list(iter_chunk_data(piece, parse_xorb(piece))) == list(iter_chunk_data(data, parsed, 2, 5))
    for bad in [(0, 0), (3, 2), (-1, 2), (0, len(ranges) + 1)]:
        with pytest.raises(XetFormatError):
            chunk_range_bytes(parsed, *bad)


@pytest.mark.parametrize("compression", [*CompressionType, "auto"])
def test_serialize_round_trip(compression) -> None:
    content = scenario_input(SCENARIOS[0])
    want = expected(SCENARIOS[0])["xorbs"][0]
    chunks = [content[c["offset"] : c["offset"] + c["length"]] for c in expected(SCENARIOS[0])["files"][0]["chunks"]]
    data = serialize_xorb(chunks, compression)
    parsed = validate_xorb(data, want["xorb_hash"])  # the hash does not depend on compression
    assert list(iter_chunk_data(data, parsed)) == chunks
    if compression == CompressionType.NONE:
        assert len(data) == len(content) + 8 * len(chunks)


def test_serialize_reproduces_hf_xet_scheme_choice() -> None:
    scenario, xorb = XORB_CASES[0]
    theirs = parse_xorb(_xorb_bytes(scenario, xorb))
    content = scenario_input(scenario)
    chunks = [content[c["offset"] : c["offset"] + c["length"]] for c in expected(scenario)["files"][0]["chunks"]]
    ours = b"".join(
        serialize_xorb([raw], c.compression, fallback=False) for raw, c in zip(chunks, theirs.chunks, strict=True)
    )
    assert [c.compression for c in parse_xorb(ours).chunks] == [c.compression for c in theirs.chunks]
    validate_xorb(ours, xorb["xorb_hash"])


def test_serialize_fallback_stores_incompressible_chunks_raw() -> None:
    noise = os.urandom(20_000)
    assert parse_xorb(serialize_xorb([noise])).chunks[0].compression == CompressionType.NONE
    forced = serialize_xorb([noise], CompressionType.LZ4, fallback=False)
    assert parse_xorb(forced).chunks[0].compression == CompressionType.LZ4
    validate_xorb(forced, xorb_hash([(chunk_hash(noise), len(noise))]))


@pytest.mark.parametrize("chunks", [[], [b""], [b"x" * (MAX_CHUNK_SIZE + 1)]])
def test_serialize_rejects_invalid_chunks(chunks: list[bytes]) -> None:
    with pytest.raises(ValueError):
        serialize_xorb(chunks)


def _valid_three() -> bytes:
    return seeds("three_schemes.xorb")[0]


def test_corpus_seed_is_valid() -> None:
    data = _valid_three()
    parsed = parse_xorb(data)
    assert [c.compression for c in parsed.chunks] == list(CompressionType)
    root = xorb_hash((chunk_hash(r), len(r)) for r in iter_chunk_data(data, parsed))
    validate_xorb(data, root)


def _expect_error(data: bytes, match: str, expected_hash: bytes | None = None) -> None:
    with pytest.raises(XetFormatError, match=match):
        validate_xorb(data, expected_hash or bytes(32))


def test_rejects_hash_mismatch() -> None:
    scenario, xorb = XORB_CASES[-1]
    data = _xorb_bytes(scenario, xorb)
    _expect_error(data, "hashes to d8d408e6", bytes(32))
    with pytest.raises(XetFormatError):
        validate_xorb(data, "not-a-hash")


def test_rejects_every_truncation() -> None:
    data = _valid_three()
    parsed = parse_xorb(data)
    ends = {c.end for c in parsed.chunks}
    for cut in range(len(data)):
        if cut in ends:
            continue  # a shorter but well-formed xorb; it fails on the hash instead
        with pytest.raises(XetFormatError, match=r"truncated|runs past|empty xorb"):
            parse_xorb(data[:cut])
    with pytest.raises(XetFormatError, match="hashes to"):
        validate_xorb(data[: parsed.chunks[0].end], bytes(32))


def test_rejects_header_lies() -> None:
    raw = b"hello world, hello xet" * 50
    payload = compress_chunk(raw, CompressionType.LZ4)
    good = _header(len(payload), 1, len(raw)) + payload
    validate_xorb(good, chunk_hash(raw))
    _expect_error(_header(len(payload), 1, len(raw) + 1) + payload, "expands to", chunk_hash(raw))
    _expect_error(_header(len(payload), 1, len(raw) - 1) + payload, "expands to", chunk_hash(raw))
    _expect_error(_header(len(payload) - 1, 1, len(raw)) + payload[:-1], "LZ4", chunk_hash(raw))
    _expect_error(_header(len(payload) + 2, 1, len(raw)) + payload + b"\0\0", "after the end", chunk_hash(raw))
    _expect_error(_header(len(payload), 2, len(raw)) + payload, "hashes to", chunk_hash(raw))  # wrong scheme
    _expect_error(_header(len(payload), 0, len(raw)) + payload, "compressed size")
    _expect_error(_header(len(payload), 3, len(raw)) + payload, "unknown compression type 3")
    _expect_error(_header(len(payload), 1, len(raw), version=1) + payload, "version 1")
    _expect_error(_header(0, 0, 0), "empty chunk")
    _expect_error(_header(5, 0, 5) + b"12345" + b"\x00", "truncated chunk header")
    big = MAX_CHUNK_SIZE + 1
    _expect_error(_header(big, 0, big) + bytes(big), "chunk limit")
    _expect_error(_header(10, 1, 10) + b"not a fram", "corrupt LZ4 frame")
    _expect_error(_header(11, 1, 10) + b"not a frame", "corrupt LZ4 frame")


def test_rejects_oversized_and_empty() -> None:
    _expect_error(b"", "empty xorb")
    _expect_error(bytes(XORB_MAX_SIZE + 1), "limit")
    one = _header(1, 0, 1) + b"x"
    _expect_error(one * (XORB_MAX_CHUNKS + 1), f"more than {XORB_MAX_CHUNKS} chunks")
    validate_xorb(one * 3, xorb_hash([(chunk_hash(b"x"), 1)] * 3))


def test_legacy_footer_is_named() -> None:
    data = _valid_three() + b"XETBLOB\x01" + bytes(40)
    with pytest.raises(XetFormatError, match="legacy xet-core metadata footer"):
        parse_xorb(data)
    parsed = parse_xorb(data, allow_footer=True)
    assert parsed.footer == b"XETBLOB\x01" + bytes(40) and len(parsed.chunks) == 3


def test_decompress_chunk_direct() -> None:
    raw = bytes(range(256)) * 8
    for ctype in CompressionType:
        assert decompress_chunk(compress_chunk(raw, ctype), ctype, len(raw)) == raw
    with pytest.raises(XetFormatError):
        decompress_chunk(raw, 9, len(raw))
    with pytest.raises(XetFormatError):
        decompress_chunk(raw, CompressionType.NONE, len(raw) - 1)


def test_chunk_hashes_need_validation() -> None:
    parsed = parse_xorb(_valid_three())
    with pytest.raises(ValueError):
        _ = parsed.chunk_hashes
    root = xorb_hash((chunk_hash(r), len(r)) for r in iter_chunk_data(_valid_three(), parsed))
    assert [s for _, s in validate_xorb(_valid_three(), root).chunk_hashes] == [300, 512, 400]


@FUZZ_SETTINGS
@given(fuzz_inputs(".xorb"))
@example(b"\x00\xff\xff\xff\x01\xff\xff\xff")
@example(b"XETBLOB")
def test_fuzz_parse_and_validate_only_raise_format_errors(data: bytes) -> None:
    try:
        parsed = parse_xorb(data)
    except XetFormatError:
        return
    assert chunk_byte_ranges(parsed)[-1][1] == len(data)
    with contextlib.suppress(XetFormatError):
        validate_xorb(data, bytes(32))
