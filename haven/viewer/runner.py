"""Running the conversion child process: materialised input, memory/time limits, lease kept alive."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HEARTBEAT = 60.0  # seconds between lease renewals of a running conversion


class ConversionFailed(Exception):
    """The child died, ran out of time or memory: the message says which."""


def run_child(
    work: Path, max_bytes: int, timeout: float, memory_mb: int, heartbeat: Callable[[], None]
) -> dict[str, Any]:
    """Convert `work/src` into `work/out` in a child process; returns its manifest."""
    request = work / "request.json"
    request.write_text(json.dumps({"src": str(work / "src"), "out": str(work / "out"), "max_bytes": max_bytes}))
    (work / "out").mkdir()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(work / "hf-home"),
        "HF_DATASETS_CACHE": str(work / "hf-cache"),
        "HAVEN_VIEWER_SRC": str(work / "src") + "/",
        "OMP_NUM_THREADS": "1",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "haven.viewer.convert", str(request)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as one on timeout
        preexec_fn=lambda: _limits(memory_mb, timeout),
    )
    _wait(child, timeout, heartbeat)
    stderr = child.stderr.read().decode("utf-8", "replace") if child.stderr else ""
    manifest = work / "out" / "manifest.json"
    if not manifest.exists():
        why = "ran out of memory" if "MemoryError" in stderr or child.returncode == -signal.SIGKILL else "crashed"
        raise ConversionFailed(f"the conversion {why} (exit {child.returncode}): {stderr[-500:]}")
    return json.loads(manifest.read_text())


def _wait(child: subprocess.Popen[bytes], timeout: float, heartbeat: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            child.wait(timeout=min(HEARTBEAT, max(deadline - time.monotonic(), 0.01)))
            return
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                raise ConversionFailed(f"the conversion took longer than {timeout:.0f} s") from None
            heartbeat()


def _limits(memory_mb: int, timeout: float) -> None:
    """In the child: cap its address space and CPU time, so a hostile file cannot take the host down."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
    cpu = int(timeout) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
