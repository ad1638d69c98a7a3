"""Loaded (via PYTHONPATH) into the Haven processes a benchmark starts with HAVEN_BENCH_PROBE naming a file:
times the CAS's upload steps as the server runs them, one JSON line per call appended to that file.

    {"fn": "register_shard" | "store_xorb" | "_sha256_of", "seconds": ..., "bytes": ..., "pid": ...}

`bytes` is the body for store_xorb and register_shard, the file's size for _sha256_of (the pass that
rebuilds a newly registered file from its chunks to check its sha256). Only timing is added; the functions
run unchanged. Names that are missing (renamed since) are skipped."""

from __future__ import annotations

import os

_OUT = os.environ.get("HAVEN_BENCH_PROBE")

if _OUT:
    import functools
    import json
    import time
    from typing import Any

    from haven.cas import service

    def _size(name: str, args: tuple[Any, ...]) -> int:
        if name == "_sha256_of":
            return sum(t.length for t in args[1])
        return len(args[-1]) if args and isinstance(args[-1], bytes | bytearray | memoryview) else 0

    def _wrap(name: str) -> None:
        fn = getattr(service, name, None)
        if fn is None:
            return

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                record = {"fn": name, "seconds": time.perf_counter() - t0, "bytes": _size(name, args)}
                with open(_OUT, "a") as f:
                    f.write(json.dumps({**record, "pid": os.getpid()}) + "\n")

        setattr(service, name, timed)

    for _name in ("store_xorb", "register_shard", "_sha256_of"):
        _wrap(_name)
