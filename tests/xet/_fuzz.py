"""Hypothesis strategies that mutate real seed files from corpus/ (plus arbitrary bytes) for parser fuzzing."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.xet._vectors import CORPUS

FUZZ_SETTINGS = settings(
    max_examples=400,
    deadline=timedelta(milliseconds=1000),  # every input must be rejected or accepted quickly
    suppress_health_check=[HealthCheck.too_slow],
    database=None,  # no .hypothesis/ directory in the tree; failures print their reproducer
)

INTERESTING = [0, 1, 2, 3, 4, 7, 8, 47, 48, 49, 0x7F, 0x80, 0xFF]


def seeds(suffix: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob(f"*{suffix}"))]


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A seed with a few random edits: byte overwrites, truncation, insertion, deletion, duplication."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "set", "truncate", "insert", "delete", "dup", "int"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[pos] = draw(st.sampled_from(INTERESTING) | st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 96))]
        elif op == "int" and len(data) >= pos + 4:
            value = draw(st.sampled_from([0, 1, 0xFFFF, 0x1_0000, 0x2_0001, 0xFF_FFFF, 0xFFFF_FFFF]))
            data[pos : pos + 4] = value.to_bytes(4, "little")
    return bytes(data)


def fuzz_inputs(suffix: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=2048), mutated(seeds(suffix)))
