"""One huggingface_hub call in a process of its own, timed inside it, for the Xet benchmarks.

    python bench/xet_client.py '{"op": "upload", "endpoint": ..., "token": ..., "repo": ..., "src": ..., "dst": ...}'
    python bench/xet_client.py '{"op": "download", "endpoint": ..., "repo": ..., "path": ..., "cache": ...}'

huggingface_hub reads HF_HUB_DISABLE_XET (and HF_HOME, where hf_xet keeps its caches) when it is imported,
so the benchmarks run each client call here, with the environment the call needs (see `run`), rather than
in their own process (bench/common.py turns Xet off there). Prints one JSON line: {"seconds": ..., "cpu": ...,
...}; both cover the call only (not starting Python or importing the library), cpu being the client
process's user + system seconds over all its threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def run(spec: dict[str, Any], xet: bool, home: Path, timeout: float = 1800) -> dict[str, Any]:
    """Run one call in a subprocess: through Xet (hf_xet) or not (HF_HUB_DISABLE_XET=1), with HF_HOME=home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        {
            "HF_HOME": str(home),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_XET_TELEMETRY_ENABLED": "false",
        }
    )
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    proc = subprocess.run(
        [sys.executable, __file__, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"client {spec['op']} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


_fsync_seconds = 0.0


def _timed_fsync(fd: int, _fsync=os.fsync) -> None:  # type: ignore[no-untyped-def]
    """os.fsync, timed: huggingface_hub fsyncs a download before publishing it to the cache, which costs as
    much as writing the file out to the disk; reported apart so it can be told from the transfer."""
    global _fsync_seconds
    t0 = time.perf_counter()
    try:
        _fsync(fd)
    finally:
        _fsync_seconds += time.perf_counter() - t0


def main() -> None:
    spec = json.loads(sys.argv[1])
    os.fsync = _timed_fsync
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub import constants as hf_constants

    out: dict[str, Any] = {"xet": not hf_constants.HF_HUB_DISABLE_XET}
    if out["xet"]:
        import hf_xet  # noqa: F401  (imported lazily by the first Xet call otherwise: 0.15 s, once per process)
    if spec["op"] == "upload":
        api = HfApi(endpoint=spec["endpoint"], token=spec["token"])
        t0, c0 = time.perf_counter(), _cpu()
        info = api.upload_file(
            path_or_fileobj=spec["src"],
            path_in_repo=spec["dst"],
            repo_id=spec["repo"],
            commit_message=spec.get("message"),
        )
        out["seconds"], out["cpu"] = time.perf_counter() - t0, _cpu() - c0
        out["commit"] = info.oid
    elif spec["op"] == "download":
        t0, c0 = time.perf_counter(), _cpu()
        path = hf_hub_download(
            spec["repo"],
            spec["path"],
            revision=spec.get("revision"),
            endpoint=spec["endpoint"],
            cache_dir=spec["cache"],
            token=spec.get("token", False),
        )
        out["seconds"], out["cpu"] = time.perf_counter() - t0, _cpu() - c0
        out["path"] = path
    else:
        raise SystemExit(f"unknown op {spec['op']!r}")
    out["fsync"] = _fsync_seconds
    print(json.dumps(out))


if __name__ == "__main__":
    main()
