"""The pool and its worker processes over their sockets: the event loop never waits on a worker. A worker
reads only between jobs, so what it cannot take yet is buffered and written out as it reads."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from haven.config import Settings
from haven.inference.pool import Pool

BIG = 1_000_000  # bytes per message: a few of them are far more than a socket buffer holds


def test_sends_to_a_worker_that_is_not_reading_never_block_the_loop(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = Pool(Settings(data_dir=tmp_path, inference_threads=1), asyncio.get_running_loop())
        worker = pool.workers[0]
        assert worker.proc is not None
        try:
            os.kill(worker.proc.pid, signal.SIGSTOP)  # a worker busy with a long job reads nothing
            started = time.monotonic()
            for i in range(8):
                worker.send("cancel", f"{i}" * BIG)
            assert time.monotonic() - started < 1.0
            assert len(worker.outbox) > BIG  # most of it waits in the pool's buffer
            os.kill(worker.proc.pid, signal.SIGCONT)
            deadline = time.monotonic() + 120  # the worker first imports torch
            while worker.outbox and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not worker.outbox  # all of it written, as the worker read it
            assert worker.proc.poll() is None
        finally:
            os.kill(worker.proc.pid, signal.SIGCONT)
            pool.shutdown()
        assert worker.proc.poll() is not None

    # In a thread of its own: a browser test earlier in this process (Playwright's sync API, whose session
    # lasts the whole run) leaves an event loop marked running in the main thread, where asyncio.run refuses.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, scenario()).result()
