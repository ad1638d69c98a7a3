"""Access to the copied test vectors (see vectors/README.md) and the input generators they describe."""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

from haven.xet.hashes import hex_to_hash

VECTORS = Path(__file__).parent / "vectors"
GENERATED = VECTORS / "hf-xet-1.8.0-generated"
HFJS_SHARD = VECTORS / "huggingface.js-shard" / "gpt2-64-8bits.tflite.shard"
CORPUS = Path(__file__).parent / "corpus"
SCENARIOS = ["A_single_file_lz4_bg4_none", "B_edited_file_dedup_against_A", "C_tiny_file"]
M64 = 0xFFFF_FFFF_FFFF_FFFF


@cache
def load(relpath: str) -> Any:
    return json.loads((VECTORS / relpath).read_text())


def expected(scenario: str) -> dict[str, Any]:
    return load(f"hf-xet-1.8.0-generated/{scenario}/expected.json")


def raw(hash_string: str) -> bytes:
    return hex_to_hash(hash_string)


def splitmix64(n: int, seed: int) -> bytes:
    """The generator of extracted-test-vectors/chunking.json."""
    out = bytearray()
    state = seed
    while len(out) < n:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        out += struct.pack("<Q", z)
    return bytes(out[:n])


def lcg24(n: int, seed: int) -> bytes:
    """The generator of extracted-test-vectors/gearhash_raw.json."""
    out = bytearray()
    state = seed & 0xFFFFFF
    while len(out) < n:
        state = (state * 1111 + 12345) & 0xFFFFFF
        out += state.to_bytes(3, "little")
    return bytes(out[:n])


def affine(n: int, a: int, b: int) -> bytes:
    """data[i] = (i*a + b) & 0xff, as in hash_functions.json."""
    return bytes((i * a + b) & 0xFF for i in range(n))


@cache
def mixed_bin() -> bytes:
    return (GENERATED / "A_single_file_lz4_bg4_none" / "mixed.bin").read_bytes()


@cache
def mixed_edited_bin() -> bytes:
    """Scenario B's input, rebuilt from mixed.bin with the recipe in the vectors' README."""
    m = mixed_bin()
    return m[:200000] + b"INSERTED-BYTES\n" * 100 + m[200000:]


def scenario_input(scenario: str) -> bytes:
    return {
        "A_single_file_lz4_bg4_none": mixed_bin,
        "B_edited_file_dedup_against_A": mixed_edited_bin,
        "C_tiny_file": lambda: (GENERATED / "C_tiny_file" / "hello.txt").read_bytes(),
    }[scenario]()
