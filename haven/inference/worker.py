"""An inference worker process: `python -m haven.inference.worker FD`, talking to the pool over the
socket FD (pickled tuples, see `pool`). It loads models from snapshot directories into a memory-bounded
LRU and runs batches one at a time. One thread reads the socket and runs what it reads: a request goes
from the socket to the model without waking another thread (each hand-off between threads costs a
wake-up, milliseconds on a busy machine). Before a batch, and between the tokens of a generation, it
reads whatever else has arrived without waiting, so cancellations still reach a running generation; the
pool never blocks on a worker that is not reading (it buffers, see `pool.Worker.send`). If the server goes
away the socket closes and the worker exits.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import time
import traceback
from collections import OrderedDict, deque
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("haven.inference.worker")

# glibc's malloc gives a freed block of more than ~128 KiB back to the kernel (it maps such blocks on their
# own, and trims the top of the heap), so a forward pass over a batch faults every page of its activations
# in anew: ~5,000 page faults and 10-15% of the time of a batch of 32 short sentences through
# all-MiniLM-L6-v2 here (a single sentence's activations are small and fault nothing). With these limits
# the pages stay with the worker and the next batch reuses them.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)
MMAP_THRESHOLD = 32 << 20  # blocks up to this come from the heap: glibc's largest accepted value
TRIM_THRESHOLD = 64 << 20  # free memory at the heap's top kept for reuse, at most


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed activations for reuse; False where it is not glibc's, or the
    operator tuned malloc through the environment (their settings stand)."""
    if "GLIBC_TUNABLES" in os.environ or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class Worker:
    def __init__(self, conn: Connection, memory_bytes: int, max_tokens: int) -> None:
        self.conn = conn
        self.memory_bytes = memory_bytes
        self.max_tokens = max_tokens
        self.models: OrderedDict[str, Any] = OrderedDict()
        self.waiting: deque[tuple[Any, ...]] = deque()  # read while busy, not yet run
        self.cancelled: set[str] = set()

    def send(self, *msg: Any) -> None:
        self.conn.send(msg)

    def _recv(self) -> tuple[Any, ...]:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the server is gone: nothing to answer to

    def next_job(self) -> tuple[Any, ...] | None:
        """The next load or batch (None: stop), waiting on the socket when nothing was read ahead."""
        while True:
            msg = self.waiting.popleft() if self.waiting else self._recv()
            if msg[0] == "cancel":
                self.cancelled.add(msg[1])
            elif msg[0] == "stop":
                return None
            else:
                return msg

    def read_ahead(self) -> None:
        """Take in what the pool sent meanwhile, without waiting: cancellations apply now, jobs queue."""
        while self.conn.poll(0):
            msg = self._recv()
            if msg[0] == "cancel":
                self.cancelled.add(msg[1])
            else:
                self.waiting.append(msg)

    def serve(self) -> None:
        self.send("ready", os.getpid())
        while (msg := self.next_job()) is not None:
            try:
                if msg[0] == "load":
                    self.model(msg[1])
                elif msg[0] == "batch":
                    self.batch(*msg[1:])
            except Exception:  # never let one request end the worker
                log.exception("inference worker error")

    def model(self, spec: dict[str, Any]) -> Any:
        """The loaded model for `spec` (loading it, and unloading least recently used ones to make room)."""
        from haven.inference import runners

        mid = spec["model_id"]
        if mid in self.models:
            self.models.move_to_end(mid)
            return self.models[mid]
        used = sum(m.nbytes for m in self.models.values())
        while self.models and used + spec["weight_bytes"] > self.memory_bytes:
            old, gone = self.models.popitem(last=False)
            used -= gone.nbytes
            del gone
            gc.collect()
            self.send("evicted", old)
        started = time.monotonic()
        try:
            loaded = runners.load(spec["path"], spec["task"], spec["sentence_transformers"], spec["allow_pickle"])
        except Exception as exc:
            message = f"Could not load the model: {type(exc).__name__}: {str(exc)[:500]}"
            self.send("load_failed", mid, message)
            raise LoadFailed(message) from None
        self.models[mid] = loaded
        self.send("loaded", mid, time.monotonic() - started, loaded.nbytes)
        return loaded

    def batch(
        self, batch_id: int, spec: dict[str, Any], task: str, items: list[tuple[str, Any, dict[str, Any]]]
    ) -> None:
        from haven.inference import runners
        from haven.inference.tasks import GENERATION

        self.read_ahead()  # cancellations sent while this batch waited
        items = [it for it in items if it[0] not in self.cancelled]
        try:
            if not items:
                return
            try:
                loaded = self.model(spec)
            except LoadFailed as exc:
                for rid, _, _ in items:
                    self.send("result", rid, 422, str(exc))
                return
            if task in GENERATION:
                for rid, inputs, params in items:
                    self.generate(loaded, task, rid, inputs, params)
                return
            try:
                results = runners.run_batch(loaded, task, [(i, p) for _, i, p in items], self.max_tokens)
            except runners.InputError as exc:
                results = [exc] * len(items)
            except Exception as exc:
                log.error("inference failed: %s", traceback.format_exc())
                results = [exc] * len(items)
            for (rid, _, _), result in zip(items, results, strict=True):
                self.send("result", rid, *_outcome(result))
        finally:
            for rid, _, _ in items:
                self.cancelled.discard(rid)
            self.send("done", batch_id)

    def generate(self, loaded: Any, task: str, rid: str, inputs: Any, params: dict[str, Any]) -> None:
        from haven.inference import runners

        stream = params.get("_stream", False)

        def emit(text: str, token: int) -> None:
            if stream:
                self.send("token", rid, text, token)

        def cancelled() -> bool:
            self.read_ahead()
            return rid in self.cancelled

        try:
            result: Any = runners.generate(loaded, task, inputs, params, emit, cancelled, self.max_tokens)
        except Exception as exc:
            if not isinstance(exc, runners.InputError):
                log.error("generation failed: %s", traceback.format_exc())
            result = exc
        self.send("result", rid, *_outcome(result))


class LoadFailed(Exception):
    pass


def _outcome(result: Any) -> tuple[int, Any]:
    from haven.inference.runners import InputError

    if isinstance(result, InputError):
        return result.status, result.message
    if isinstance(result, Exception):
        return 500, f"Inference failed: {type(result).__name__}: {str(result)[:500]}"
    return 200, result


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fd, memory_mb, max_tokens, threads = (int(x) for x in sys.argv[1:5])
    keep_freed_memory()
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bars in the server's log
    if threads > 0:
        torch.set_num_threads(threads)
    Worker(Connection(fd), memory_mb * 1_000_000, max_tokens).serve()


if __name__ == "__main__":
    main()
