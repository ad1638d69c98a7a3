"""The worker keeps the memory it frees for its next batch: a forward pass's activations are many blocks of
a few MiB, which glibc's malloc would otherwise hand back to the kernel and fault in again every pass."""

from __future__ import annotations

import os
import subprocess
import sys

# Passes of 16 activations of 1.5 MiB each, written and freed; prints the page faults of the passes after
# the first (which faults in whatever memory the process keeps).
PASSES = """
import ctypes, resource, sys
from haven.inference.worker import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "kept" else None)

def forward_pass():
    blocks = [bytearray(3 << 19) for _ in range(16)]
    for block in blocks:
        ctypes.memset((ctypes.c_char * len(block)).from_buffer(block), 1, len(block))

forward_pass()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    forward_pass()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def passes(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run(
        [sys.executable, "-c", PASSES, mode], env={**clean, **env}, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


def test_freed_activations_are_reused_not_faulted_in_again() -> None:
    _, default_faults = passes("default")
    applied, kept_faults = passes("kept")
    assert applied == "True"
    assert default_faults > 20 * 16 * 100  # glibc's defaults: each pass faults most of its 24 MiB in anew
    assert kept_faults < default_faults / 20


def test_malloc_settings_of_the_operator_stand() -> None:
    applied, faults = passes("kept", MALLOC_ARENA_MAX="2")
    assert applied == "False"
    assert faults > 20 * 16 * 100  # nothing was changed: as glibc's defaults
