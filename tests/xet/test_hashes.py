"""Hash vectors: chunk, Merkle xorb/file, verification, HMAC, hash strings, and hf_xet cross-checks."""

from __future__ import annotations

import hashlib
import os

import pytest

from haven.xet import constants
from haven.xet.chunking import chunk_boundaries
from haven.xet.errors import XetFormatError
from haven.xet.hashes import (
    chunk_hash,
    file_hash,
    hash_to_hex,
    hex_to_hash,
    hmac_hash,
    is_global_dedup_eligible,
    merkle_root,
    verification_hash,
    xorb_hash,
)
from tests.xet._vectors import SCENARIOS, affine, expected, load, raw, splitmix64

CONSTANTS = load("constants.json")
MERKLE = load("extracted-test-vectors/merkle_xorb_file_hashes.json")["cases"]
FUNCS = load("extracted-test-vectors/hash_functions.json")


def test_keys_match_the_spec_constants() -> None:
    assert list(constants.DATA_KEY) == CONSTANTS["DATA_KEY"]["bytes"]
    assert list(constants.INTERNAL_NODE_KEY) == CONSTANTS["INTERNAL_NODE_KEY"]["bytes"]
    assert list(constants.VERIFICATION_KEY) == CONSTANTS["VERIFICATION_KEY"]["bytes"]
    assert list(constants.FILE_HASH_KEY) == CONSTANTS["FILE_HASH_KEY"]["bytes"]
    assert list(constants.GEAR_TABLE) == [int(v, 16) for v in CONSTANTS["GEAR_TABLE"]["values_hex"]]
    assert constants.SHARD_HEADER_TAG.hex() == CONSTANTS["shard"]["MDB_SHARD_HEADER_TAG"]["hex"]


def test_hash_string_example_and_erratum() -> None:
    fmt = CONSTANTS["hash_string_format"]
    h = bytes(fmt["example_raw_bytes"])
    assert hash_to_hex(h) == fmt["example_string"]
    assert hex_to_hash(fmt["example_string"]) == h
    with pytest.raises(XetFormatError):  # the 62-character string printed in api.md
        hex_to_hash("07060504030201000f0e0d0c0b0a0908171615141312111f1e1d1c1b1a1918")


@pytest.mark.parametrize("bad", ["", "00" * 31, "0" * 63 + "g", "A" * 64, " " + "0" * 63, "0" * 65])
def test_hex_to_hash_rejects_malformed(bad: str) -> None:
    with pytest.raises(XetFormatError):
        hex_to_hash(bad)


def test_hash_to_hex_rejects_wrong_length() -> None:
    with pytest.raises(XetFormatError):
        hash_to_hex(b"\x00" * 31)


def test_hash_string_round_trip() -> None:
    for _ in range(20):
        h = os.urandom(32)
        assert hex_to_hash(hash_to_hex(h)) == h


def test_chunk_hash_vectors() -> None:
    hello, empty = FUNCS["chunk_hash"]
    h = chunk_hash(hello["input_ascii"].encode())
    assert hash_to_hex(h) == hello["chunk_hash"]
    assert h.hex() == hello["chunk_hash_raw_hex"]
    assert hash_to_hex(file_hash([(h, 12)])) == hello["file_hash"]
    assert hash_to_hex(chunk_hash(b"")) == empty["chunk_hash"]


@pytest.mark.parametrize("case", MERKLE, ids=lambda c: f"{len(c['nodes'])}nodes")
def test_merkle_xorb_and_salted_file_hashes(case: dict) -> None:
    nodes = [(raw(n["hash"]), n["size"]) for n in case["nodes"]]
    assert hash_to_hex(xorb_hash(nodes)) == case["xorb_hash"]
    for salted in case["file_hashes_with_salt"]:
        assert hash_to_hex(file_hash(nodes, salt=raw(salted["salt"]))) == salted["file_hash"]


def test_empty_file_versus_one_zero_chunk() -> None:
    assert file_hash([]) == bytes(32)
    assert hash_to_hex(file_hash([])) == FUNCS["file_hash_empty_file"]
    assert hash_to_hex(file_hash([(bytes(32), 0)])).startswith("638a6bc3")
    assert merkle_root([]) == bytes(32)


@pytest.mark.parametrize("case", FUNCS["generated_inputs"], ids=lambda c: str(c["input"]["n"]))
def test_generated_inputs(case: dict) -> None:
    spec = case["input"]
    data = affine(spec["n"], spec["a"], spec["b"])
    bounds = chunk_boundaries(data)
    assert bounds == case["boundaries"]
    starts = [0, *bounds[:-1]]
    leaves = [(chunk_hash(data[s:e]), e - s) for s, e in zip(starts, bounds, strict=True)]
    assert [hash_to_hex(h) for h, _ in leaves] == case["chunk_hashes"]
    assert hash_to_hex(xorb_hash(leaves)) == case["xorb_hash"]
    assert hash_to_hex(file_hash(leaves)) == case["file_hash"]
    assert hash_to_hex(verification_hash(h for h, _ in leaves)) == case["verification_hash_all_chunks"]


def test_hmac_and_verification_vectors() -> None:
    v = FUNCS["hmac"]
    assert hash_to_hex(hmac_hash(raw(v["key"]), raw(v["hash"]))) == v["result"]
    v = FUNCS["verification_hash"]
    assert hash_to_hex(verification_hash(raw(h) for h in v["chunk_hashes"])) == v["result"]


def test_hmac_and_verification_reject_bad_lengths() -> None:
    with pytest.raises(XetFormatError):
        hmac_hash(b"k" * 31, bytes(32))
    with pytest.raises(XetFormatError):
        verification_hash([bytes(31)])
    with pytest.raises(XetFormatError):
        merkle_root([(bytes(31), 1)])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_hf_xet_generated_file_hashes_and_terms(scenario: str) -> None:
    exp = expected(scenario)
    for f in exp["files"]:
        leaves = [(raw(c["chunk_hash"]), c["length"]) for c in f["chunks"]]
        assert hash_to_hex(merkle_root(leaves)) == f["merkle_root"]
        assert hash_to_hex(file_hash(leaves)) == f["file_hash"]
    xorb_chunks = {x["xorb_hash"]: [raw(c["chunk_hash"]) for c in x["chunks"]] for x in exp["xorbs"]}
    if scenario.startswith("B_"):  # B's first and last terms reuse A's xorb
        for x in expected(SCENARIOS[0])["xorbs"]:
            xorb_chunks[x["xorb_hash"]] = [raw(c["chunk_hash"]) for c in x["chunks"]]
    for term in exp["term_verification_hashes"]:
        hashes = xorb_chunks[term["xorb_hash"]][term["chunk_index_start"] : term["chunk_index_end"]]
        assert hash_to_hex(verification_hash(hashes)) == term["verification_hash"]


def test_random_1mb_file_hash_and_verification() -> None:
    exp = load("hf-xet-1.8.0-generated/R_random_1MB/expected.json")
    leaves = [(raw(c["chunk_hash"]), c["length"]) for c in exp["chunks"]]
    assert hash_to_hex(merkle_root(leaves)) == exp["merkle_root_as_single_xorb"]
    assert hash_to_hex(file_hash(leaves)) == exp["file_hash"]
    assert hash_to_hex(verification_hash(h for h, _ in leaves)) == exp["verification_hash_term_0_to_19"]


def test_global_dedup_eligibility() -> None:
    assert is_global_dedup_eligible(bytes(32))
    assert not is_global_dedup_eligible(bytes(24) + (1).to_bytes(8, "little"))
    assert is_global_dedup_eligible(bytes(24) + (1024 * 7).to_bytes(8, "little"))


def _our_file_hash(data: bytes) -> str:
    bounds = chunk_boundaries(data)
    starts = [0, *bounds][: len(bounds)]
    return hash_to_hex(file_hash((chunk_hash(data[s:e]), e - s) for s, e in zip(starts, bounds, strict=True)))


def test_file_hashes_agree_with_hf_xet(tmp_path) -> None:
    hf_xet = pytest.importorskip("hf_xet")
    inputs = {
        "empty": b"",
        "one": b"x",
        "below_min": os.urandom(8191),
        "at_min": os.urandom(8192),
        "text": b"".join(b"line %d of a text file\n" % i for i in range(40000)),
        "random": os.urandom(700_001),
        "zeros": bytes(300_000),
        "splitmix": splitmix64(1_000_000, 3),
        "sha_of_counter": b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(20000)),
    }
    paths = []
    for name, data in inputs.items():
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(str(p))
    results = hf_xet.hash_files(paths)
    for (name, data), res in zip(inputs.items(), results, strict=True):
        assert res.hash == _our_file_hash(data), name
        assert res.file_size == len(data)
