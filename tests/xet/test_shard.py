"""Shard vectors (hf-xet 1.8.0 uploads and cache copies, huggingface.js dedup shard), round trips, checks, fuzz."""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import replace

import pytest
from hypothesis import example, given

from haven.xet.constants import SHARD_FOOTER_SIZE, SHARD_HEADER_TAG, SHARD_MAX_SIZE
from haven.xet.errors import XetFormatError
from haven.xet.hashes import chunk_hash, file_hash, hash_to_hex, hex_to_hash, hmac_hash, verification_hash
from haven.xet.shard import (
    CASChunk,
    CASInfo,
    FileInfo,
    Shard,
    Term,
    cas_info_for_chunks,
    check_upload_shard,
    dedup_response_shard,
    parse_shard,
    serialize_shard,
    verify_file_info,
)
from tests.xet._fuzz import FUZZ_SETTINGS, fuzz_inputs, seeds
from tests.xet._vectors import GENERATED, HFJS_SHARD, SCENARIOS, expected, load, raw

SHARD_CASES = [(s, sh) for s in SCENARIOS for sh in expected(s)["shards"]]


def _parse_case(scenario: str, shard: dict) -> tuple[bytes, Shard]:
    data = (GENERATED / scenario / shard["file"]).read_bytes()
    return data, parse_shard(data)


def _compare(parsed: Shard, want: dict) -> None:
    assert len(parsed.files) == len(want["file_info"])
    for f, wf in zip(parsed.files, want["file_info"], strict=True):
        assert hash_to_hex(f.file_hash) == wf["file_hash"]
        assert f.flags == int(wf["file_flags"], 16) and len(f.terms) == wf["num_entries"]
        assert [
            {
                "cas_hash": hash_to_hex(t.cas_hash),
                "cas_flags": t.cas_flags,
                "unpacked_segment_bytes": t.unpacked_segment_bytes,
                "chunk_index_start": t.chunk_index_start,
                "chunk_index_end": t.chunk_index_end,
            }
            for t in f.terms
        ] == wf["entries"]
        assert [hash_to_hex(v) for v in f.verification or ()] == wf["verification"]
        assert f.sha256_hex == wf["sha256"]
    assert parsed.cas_info_offset == want["cas_info_offset_computed"]
    assert parsed.cas_info_end == want["end_of_cas_info"]
    assert parsed.size == want["total_len"]
    for c, wc in zip(parsed.cas_infos, want["cas_info"], strict=True):
        assert (hash_to_hex(c.cas_hash), c.cas_flags, len(c.chunks), c.num_bytes_in_cas, c.num_bytes_on_disk) == (
            wc["cas_hash"],
            wc["cas_flags"],
            wc["num_entries"],
            wc["num_bytes_in_cas"],
            wc["num_bytes_on_disk"],
        )
        assert [
            {
                "chunk_hash": hash_to_hex(k.chunk_hash),
                "chunk_byte_range_start": k.chunk_byte_range_start,
                "unpacked_segment_bytes": k.unpacked_segment_bytes,
                "flags": k.flags,
            }
            for k in c.chunks
        ] == wc["chunks"]
    if "footer" not in want:
        assert parsed.footer is None
        return
    ft, f = want["footer"], parsed.footer
    assert f is not None
    assert (f.version, f.file_info_offset, f.cas_info_offset, f.footer_offset) == (
        ft["version"],
        ft["file_info_offset"],
        ft["cas_info_offset"],
        ft["footer_offset"],
    )
    assert hash_to_hex(f.chunk_hash_hmac_key) == ft["chunk_hash_hmac_key"] and parsed.hmac_key is None
    assert (f.shard_creation_timestamp, f.shard_key_expiry) == (ft["shard_creation_timestamp"], ft["shard_key_expiry"])


@pytest.mark.parametrize(("scenario", "shard"), SHARD_CASES, ids=lambda v: v if isinstance(v, str) else v["file"])
def test_hf_xet_shards_match_expected(scenario: str, shard: dict) -> None:
    data, parsed = _parse_case(scenario, shard)
    _compare(parsed, shard["parsed"])
    if parsed.footer is None:
        check_upload_shard(parsed)
        assert serialize_shard(parsed.files, parsed.cas_infos) == data  # byte-exact
    else:
        # The cache copy is the upload shard plus xet-core lookup tables and a footer.
        assert parsed.footer.lookups[0] == parsed.cas_info_end


def test_cache_copy_extends_upload_shard() -> None:
    upload = (GENERATED / SCENARIOS[0] / "upload_0.shard").read_bytes()
    cached = parse_shard((GENERATED / SCENARIOS[0] / "cached_with_footer_0.shard").read_bytes())
    assert cached.footer is not None and cached.footer.lookups == (768, 1, 780, 1, 792, 8)
    assert parse_shard(upload).files == cached.files and parse_shard(upload).cas_infos == cached.cas_infos


def test_sha256_is_stored_in_hash_string_order() -> None:
    import hashlib

    f = parse_shard((GENERATED / "C_tiny_file" / "upload_0.shard").read_bytes()).files[0]
    assert f.sha256_hex == hashlib.sha256(b"Hello World!").hexdigest()
    assert f.sha256 == hex_to_hash(hashlib.sha256(b"Hello World!").hexdigest())


def test_huggingface_js_dedup_shard() -> None:
    data = HFJS_SHARD.read_bytes()
    want = load("huggingface.js-shard/gpt2-64-8bits.tflite.shard.json")
    parsed = parse_shard(data)
    assert parsed.files == ()
    assert parsed.hmac_key is not None and hash_to_hex(parsed.hmac_key) == want["hmac_key"]
    assert [hash_to_hex(c.cas_hash) for c in parsed.cas_infos] == [x["hash"] for x in want["xorbs"]]
    for c, x in zip(parsed.cas_infos, want["xorbs"], strict=True):
        assert [hash_to_hex(k.chunk_hash) for k in c.chunks] == x["chunk_hashes"]
    assert [len(c.chunks) for c in parsed.cas_infos] == [933, 1062, 122]
    # The known raw chunk hash, HMAC'd with the footer key, is the first chunk of the second xorb.
    mine = raw("9502eec19d4b0c9f7b389228fa801f68ecdf15d69ccd1da2f9ddbd0219898335")
    assert hash_to_hex(hmac_hash(parsed.hmac_key, mine)) == want["xorbs"][1]["chunk_hashes"][0]
    # Re-serialized with the same footer values it is identical except xet-core's reserved byte tallies.
    assert parsed.footer is not None
    again = serialize_shard(
        parsed.files,
        parsed.cas_infos,
        footer=True,
        hmac_key=parsed.hmac_key,
        creation_timestamp=parsed.footer.shard_creation_timestamp,
        key_expiry=parsed.footer.shard_key_expiry,
    )
    assert len(again) == len(data) and again[:-SHARD_FOOTER_SIZE] == data[:-SHARD_FOOTER_SIZE]
    reparsed = parse_shard(again).footer
    assert replace(reparsed, reserved=parsed.footer.reserved) == parsed.footer  # lookups point at the footer, 0 rows


def test_dedup_response_round_trip() -> None:
    key = os.urandom(32)
    upload = parse_shard((GENERATED / SCENARIOS[0] / "upload_0.shard").read_bytes())
    data = dedup_response_shard(upload.cas_infos, key, creation_timestamp=1000, ttl=60)
    parsed = parse_shard(data)
    assert parsed.files == () and parsed.hmac_key == key
    assert parsed.footer is not None and (parsed.footer.shard_creation_timestamp, parsed.footer.shard_key_expiry) == (
        1000,
        1060,
    )
    theirs = {k.chunk_hash: i for i, k in enumerate(parsed.cas_infos[0].chunks)}
    for i, k in enumerate(upload.cas_infos[0].chunks):
        assert k.chunk_hash not in theirs  # raw hashes are not disclosed
        assert theirs[hmac_hash(key, k.chunk_hash)] == i
    with pytest.raises(ValueError):
        dedup_response_shard(upload.cas_infos, bytes(32))


def _synthetic() -> tuple[list[FileInfo], list[CASInfo]]:
    chunks = [(chunk_hash(os.urandom(8)), 1000 + i) for i in range(5)]
    xh = os.urandom(32)
    files = [
        FileInfo(os.urandom(32), (Term(xh, 3003, 0, 3), Term(xh, 2007, 3, 5, cas_flags=7))),
        FileInfo(
            os.urandom(32),
            (Term(xh, 1000, 0, 1),),
            verification=(os.urandom(32),),
            sha256=os.urandom(32),
            flags=0x1,
        ),
        FileInfo(os.urandom(32), (Term(xh, 1000, 0, 1),), sha256=os.urandom(32)),
    ]
    cas = [cas_info_for_chunks(xh, chunks, num_bytes_on_disk=4321), CASInfo(os.urandom(32), (), cas_flags=2)]
    return files, cas


@pytest.mark.parametrize("footer", [False, True])
def test_round_trip_synthetic(footer: bool) -> None:
    files, cas = _synthetic()
    data = serialize_shard(files, cas, footer=footer, creation_timestamp=5, key_expiry=6)
    parsed = parse_shard(data)
    derived = [0x0, 0x8000_0000 | 0x4000_0000 | 0x1, 0x4000_0000]
    assert [f.flags for f in parsed.files] == derived
    assert [replace(f, flags=0) for f in parsed.files] == [replace(f, flags=0) for f in files]
    assert [replace(c, num_bytes_in_cas=None) for c in parsed.cas_infos] == [
        replace(c, num_bytes_in_cas=None) for c in cas
    ]
    assert parsed.cas_infos[0].num_bytes_in_cas == 5010 and parsed.cas_infos[0].chunks[2].chunk_byte_range_start == 2001
    assert (parsed.footer is not None) == footer
    assert serialize_shard(parsed.files, parsed.cas_infos, footer=footer, creation_timestamp=5, key_expiry=6) == data


def test_empty_shard() -> None:
    data = serialize_shard([], [])
    assert len(data) == 48 + 96
    parsed = parse_shard(data)
    assert parsed.files == () and parsed.cas_infos == ()


def test_check_upload_shard_rules() -> None:
    good = parse_shard((GENERATED / SCENARIOS[1] / "upload_0.shard").read_bytes())
    check_upload_shard(good)
    f = good.files[0]
    bad_cases = {
        "footer": replace(good, footer=parse_shard(HFJS_SHARD.read_bytes()).footer),
        "no verification": replace(good, files=(replace(f, verification=None),)),
        "SHA-256": replace(good, files=(replace(f, sha256=None),)),
        "empty chunk range": replace(good, files=(replace(f, terms=(f.terms[0]._replace(chunk_index_end=0),)),)),
        "num_bytes_in_cas": replace(good, cas_infos=(replace(good.cas_infos[0], num_bytes_in_cas=1),)),
        "lists no chunks": replace(good, cas_infos=(replace(good.cas_infos[0], chunks=()),)),
    }
    for message, shard in bad_cases.items():
        with pytest.raises(XetFormatError, match=message):
            check_upload_shard(shard)
    check_upload_shard(replace(good, files=(replace(f, sha256=None),)), require_sha256=False)


def _xorb_lists() -> dict[bytes, list[tuple[bytes, int]]]:
    out = {}
    for s in SCENARIOS:
        for x in expected(s)["xorbs"]:
            out[raw(x["xorb_hash"])] = [(raw(c["chunk_hash"]), c["uncompressed_size"]) for c in x["chunks"]]
    return out


def test_verify_file_info_against_xorbs() -> None:
    xorbs = _xorb_lists()
    for s in SCENARIOS:
        for f in parse_shard((GENERATED / s / "upload_0.shard").read_bytes()).files:
            verify_file_info(f, xorbs.get)
    f = parse_shard((GENERATED / SCENARIOS[1] / "upload_0.shard").read_bytes()).files[0]
    assert len(f.terms) == 3
    t0 = f.terms[0]
    bad = {
        "unknown xorb": replace(f, terms=(t0._replace(cas_hash=bytes(32)), *f.terms[1:])),
        "outside": replace(f, terms=(t0._replace(chunk_index_end=99), *f.terms[1:])),
        "unpacked_segment_bytes": replace(f, terms=(t0._replace(unpacked_segment_bytes=1), *f.terms[1:])),
        "verification hash mismatch": replace(f, verification=(bytes(32), *f.verification[1:])),
        "does not match its terms": replace(f, file_hash=bytes(32)),
    }
    for message, info in bad.items():
        with pytest.raises(XetFormatError, match=message):
            verify_file_info(info, xorbs.get)
    # A term that verifies but whose hash was computed over other chunks is still caught by the file hash.
    xh = next(iter(xorbs))
    one = xorbs[xh][:1]
    fake = FileInfo(file_hash(one), (Term(xh, one[0][1], 0, 1),), (verification_hash([one[0][0]]),))
    verify_file_info(fake, xorbs.get)


def _upload() -> bytes:
    return (GENERATED / SCENARIOS[0] / "upload_0.shard").read_bytes()


def test_rejects_malformed_headers() -> None:
    data = _upload()
    cases = {
        "wrong magic tag": b"X" + data[1:],
        "header version 3": data[:32] + struct.pack("<Q", 3) + data[40:],
        "footer_size 7": data[:40] + struct.pack("<Q", 7) + data[48:],
        "too short for the footer": data[:40] + struct.pack("<Q", 200) + data[48:100],
        "shorter than": data[:47],
        "unexpected bytes": data + b"\0",
    }
    for message, bad in cases.items():
        with pytest.raises(XetFormatError, match=message):
            parse_shard(bad)
    with pytest.raises(XetFormatError, match="limit"):
        parse_shard(SHARD_HEADER_TAG + bytes(SHARD_MAX_SIZE))


def test_rejects_every_truncation() -> None:
    for data in (_upload(), (GENERATED / SCENARIOS[0] / "cached_with_footer_0.shard").read_bytes()):
        for cut in range(len(data)):
            with pytest.raises(XetFormatError):
                parse_shard(data[:cut])


def test_rejects_lying_counts_and_footers() -> None:
    data = bytearray(_upload())
    huge = bytearray(data)
    struct.pack_into("<I", huge, 48 + 36, 0xFFFF_FFFF)  # file num_entries
    with pytest.raises(XetFormatError, match="announced"):
        parse_shard(bytes(huge))
    huge = bytearray(data)
    cas = parse_shard(bytes(data)).cas_info_offset
    struct.pack_into("<I", huge, cas + 36, 9)  # CAS num_entries 8 -> 9 swallows the bookend
    with pytest.raises(XetFormatError):
        parse_shard(bytes(huge))
    footer = bytearray((GENERATED / SCENARIOS[0] / "cached_with_footer_0.shard").read_bytes())
    base = len(footer) - SHARD_FOOTER_SIZE
    for offset, value, message in [
        (0, 2, "footer version 2"),
        (8, 96, "file_info_offset"),
        (16, 336, "cas_info_offset"),
        (192, 900, "footer_offset"),
    ]:
        bad = bytearray(footer)
        struct.pack_into("<Q", bad, base + offset, value)
        with pytest.raises(XetFormatError, match=message):
            parse_shard(bytes(bad))


@FUZZ_SETTINGS
@given(fuzz_inputs(".shard"))
@example(SHARD_HEADER_TAG + struct.pack("<QQ", 2, 200))
@example(SHARD_HEADER_TAG + struct.pack("<QQ", 2, 0) + b"\xff" * 32)
def test_fuzz_parse_only_raises_format_errors(data: bytes) -> None:
    try:
        parsed = parse_shard(data)
    except XetFormatError:
        return
    assert parsed.cas_info_end <= parsed.size
    with contextlib.suppress(XetFormatError):
        check_upload_shard(parsed)


def test_corpus_seeds_parse() -> None:
    for data in seeds(".shard"):
        parse_shard(data)
    assert isinstance(CASChunk(bytes(32), 0, 1).flags, int)
