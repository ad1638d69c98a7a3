"""The worker pool inside the web server: worker processes, per-model queues with dynamic batching,
back-pressure, cancellation, crash recovery and the numbers /api/inference/stats reports.

Everything here runs on the event loop, which also reads and writes the workers' sockets (non-blocking:
an answer goes from the worker to the loop without waking another thread on the way; a worker reads
only between jobs, so what it cannot take yet waits in a buffer the loop writes out as the socket
drains, see `Worker.send`). One thread per worker process only waits for it to exit. A
request joins its model's lane (model and parameters); an idle lane sends it at once (or after
`inference_batch_ms`, if set); while a batch of a lane runs, newcomers gather and go together as soon as
it is done (up to `inference_max_batch`), so under load batches grow by themselves and a lone request
never waits for company.

When a batch finishes, its callers are about to send their next requests: the lane then expects as many
requests as that batch held plus those already waiting before its answers went out, and holds the next batch
until they are there, for at most a fraction of the last batch's run time (`Lane`, `Pool._gather`). Without that, steady load from N clients
splits into alternating batches of 1 and N-1 (the first returning caller finds the lane idle), which
costs a third of the throughput batching exists for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from haven.config import Settings
from haven.inference.tasks import FAMILIES, GENERATION, InferenceError, Job

log = logging.getLogger("haven.inference")
LOAD_FAILURE_TTL = 30.0  # seconds a failed load is answered from memory before it is tried again


@dataclass
class ModelSpec:
    """What a worker needs to load a model: built by the router from a snapshot."""

    repo: str
    snapshot_key: str
    path: str
    task: str
    sentence_transformers: bool
    allow_pickle: bool
    weight_bytes: int
    owner_id: int = 0  # with `repo_id` and `private`: who may see this model's numbers in the stats
    repo_id: int = 0
    private: bool = False

    @property
    def model_id(self) -> str:
        return f"{self.snapshot_key}:{FAMILIES[self.task]}"

    def wire(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "path": self.path,
            "task": self.task,
            "sentence_transformers": self.sentence_transformers,
            "allow_pickle": self.allow_pickle,
            "weight_bytes": self.weight_bytes,
        }


@dataclass(eq=False)
class Request:
    id: str
    spec: ModelSpec
    job: Job
    future: asyncio.Future[tuple[int, Any]]
    started: float = field(default_factory=time.monotonic)
    tokens: asyncio.Queue[tuple[str, int] | None] | None = None
    worker: Worker | None = None
    lane: Lane | None = None
    sent: bool = False
    progress: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first token or the answer


READ_SIZE = 1 << 20  # bytes taken from a worker's socket per read
GATHER_SHARE = 0.5  # of the last batch's run time, the longest a lane holds a batch for expected requests
GATHER_MAX = 0.05  # seconds, whatever that run time was


@dataclass(eq=False)
class Lane:
    key: tuple[int, str, str]
    pending: list[Request] = field(default_factory=list)
    inflight: int = 0
    timer: asyncio.TimerHandle | None = None
    expect: int = 1  # requests the next batch should wait for (1: send at once)
    last_run: float = 0.0  # seconds the last batch took, from send to done
    waiting_before: int | None = None  # requests waiting when the running batch's first answer came

    def answering(self) -> None:
        """The running batch's first answer is here: no caller of it can have come back yet, so whoever
        waits now is somebody else (callers who come back before "done" arrives must not count twice)."""
        if self.waiting_before is None:
            self.waiting_before = len(self.pending)

    def finished(self, size: int, seconds: float) -> None:
        """A batch of `size` is done: its callers will be back, next to those who were already waiting."""
        before, self.waiting_before = self.waiting_before, None
        self.expect = size + before if before is not None else max(size, len(self.pending))
        self.last_run = seconds

    def gathered(self, max_batch: int) -> bool:
        return len(self.pending) >= min(self.expect, max_batch)

    def wait(self) -> float:
        return min(GATHER_MAX, GATHER_SHARE * self.last_run)


class Worker:
    """One worker process and what the pool knows of it."""

    def __init__(self, pool: Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None  # read and written by the event loop, never blocking it
        self.outbox = bytearray()  # frames the socket would not take yet
        self.inbox = bytearray()  # what was read of frames not yet complete
        self.loaded: dict[str, int] = {}
        self.loading: dict[str, tuple[float, float]] = {}
        self.inflight: dict[str, Request] = {}
        self.batches: dict[int, tuple[Lane, int, float] | None] = {}  # lane, size, sent at
        self.restarts = 0
        self.deaths: deque[float] = deque(maxlen=10)
        self.alive = False

    def start(self) -> None:
        s = self.pool.settings
        parent, child = socket.socketpair()
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        args = [str(child.fileno()), str(s.inference_memory_mb), str(s.inference_max_input_tokens)]
        args.append(str(s.inference_threads))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "haven.inference.worker", *args], pass_fds=[child.fileno()], env=env
        )
        child.close()
        parent.setblocking(False)
        self.sock, self.outbox, self.inbox = parent, bytearray(), bytearray()
        self.alive = True
        self.pool.loop.add_reader(parent, self._readable, parent)
        proc = self.proc
        threading.Thread(target=self._wait, args=(proc,), daemon=True, name="inference-waiter").start()

    def send(self, *msg: Any) -> None:
        """From the event loop, never waiting: a worker reads only between jobs (and between generated
        tokens), so what its socket cannot take now is kept and written as it drains. The frame is
        multiprocessing.Connection's (a 4-byte big-endian length, then the pickle), which the worker reads."""
        if self.sock is None or not self.alive:
            return
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        frame = struct.pack("!i", len(data)) + data
        if self.outbox:
            self.outbox += frame
            return
        try:
            sent = self.sock.send(frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the worker died: its waiter thread reports that
        if sent < len(frame):
            self.outbox += frame[sent:]
            self.pool.loop.add_writer(self.sock, self._flush, self.sock)

    def _flush(self, sock: socket.socket) -> None:
        """The socket can take more: write what waits (called by the loop while there is any)."""
        try:
            sent = sock.send(self.outbox)
        except BlockingIOError:
            return
        except OSError:
            sent = len(self.outbox)  # the worker died: nobody to write to
        del self.outbox[:sent]
        if not self.outbox:
            self.pool.loop.remove_writer(sock)

    def _close(self) -> None:
        """Forget the socket: the loop stops watching it and what was not yet written is dropped."""
        if self.sock is not None:
            self.pool.loop.remove_reader(self.sock)
            if self.outbox:
                self.pool.loop.remove_writer(self.sock)
            self.sock.close()
            self.sock, self.outbox = None, bytearray()

    def _readable(self, sock: socket.socket) -> bool:
        """The worker wrote (called by the loop): hand each complete message to the pool. False at the end."""
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:  # the worker is gone: its waiter thread reports that
            self.pool.loop.remove_reader(sock)
            return False
        self.inbox += data
        for msg in self._messages():
            self.pool.on_message(self, msg)
        return True

    def _messages(self) -> list[Any]:
        """The complete frames read so far (multiprocessing.Connection's, as the worker writes them)."""
        out, buf, pos = [], self.inbox, 0
        while len(buf) - pos >= 4:
            (size,) = struct.unpack_from("!i", buf, pos)
            head = 4
            if size == -1:  # a frame over 2 GiB: an 8-byte length follows
                if len(buf) - pos < 12:
                    break
                (size,) = struct.unpack_from("!Q", buf, pos + 4)
                head = 12
            if len(buf) - pos < head + size:
                break
            out.append(pickle.loads(buf[pos + head : pos + head + size]))
            pos += head + size
        del buf[:pos]
        return out

    def drain(self) -> None:
        """Take what the worker wrote before it exited (its death is reported after that, never before)."""
        while self.sock is not None and self._readable(self.sock):
            pass

    def _wait(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            self.pool.loop.call_soon_threadsafe(self.pool.on_death, self, proc, code)

    def stop(self) -> None:
        """Ask the worker to end after its current job; if the pool still has input queued for it, hang up
        instead (it exits at its next read). Killed if it is not gone within 5 s."""
        if self.outbox:
            self._close()
        else:
            self.send("stop")
        self.alive = False
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._close()


class Stats:
    """Request counts and latencies per model (the last 1000 requests of each)."""

    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.batches = 0
        self.batched_requests = 0
        self.batch_seconds = 0.0  # sum of batches' times from send to done: how busy batching keeps the workers

    def record(self, spec: ModelSpec, task: str, status: int, seconds: float) -> None:
        m = self.models.setdefault(spec.repo, {"requests": 0, "errors": 0, "tasks": {}, "latency": deque(maxlen=1000)})
        m["access"] = (spec.repo_id, spec.owner_id, spec.private)
        m["requests"] += 1
        m["tasks"][task] = m["tasks"].get(task, 0) + 1
        if status >= 400:
            m["errors"] += 1
        else:
            m["latency"].append(seconds)

    def report(self, visible: Callable[[int, int, bool], bool]) -> dict[str, Any]:
        out = {}
        for repo, m in self.models.items():
            if not visible(*m["access"]):
                continue
            lat = sorted(m["latency"])
            out[repo] = {
                "requests": m["requests"],
                "errors": m["errors"],
                "tasks": m["tasks"],
                "latency_ms": {
                    "p50": round(_pct(lat, 0.5) * 1000, 2),
                    "p99": round(_pct(lat, 0.99) * 1000, 2),
                    "mean": round(sum(lat) / len(lat) * 1000, 2) if lat else 0.0,
                },
            }
        return out


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


class Pool:
    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.loop = loop
        self.workers = [Worker(self, i) for i in range(max(1, settings.inference_workers))]
        self.lanes: dict[tuple[int, str, str], Lane] = {}
        self.failed: dict[str, tuple[float, str]] = {}
        self.load_seconds: dict[str, float] = {}
        self.active = 0
        self.ids = itertools.count(1)
        self.stats = Stats()
        self.closed = False
        for w in self.workers:
            w.start()

    # --- submitting --------------------------------------------------------------------------

    def submit(self, spec: ModelSpec, job: Job, wait_for_model: bool) -> Request:
        """Queue a request; raises 503 when the queue is full or (unless `wait_for_model`) the model is
        still loading, 4xx/5xx when its last load attempt failed."""
        if self.closed:
            raise InferenceError(503, "The inference service is shutting down")
        if self.active >= self.settings.inference_queue_size:
            raise InferenceError(
                503, "Too many inference requests are waiting; retry shortly", headers={"Retry-After": "1"}
            )
        mid = spec.model_id
        failure = self.failed.get(mid)
        if failure is not None and time.monotonic() - failure[0] < LOAD_FAILURE_TTL:
            raise InferenceError(422, failure[1])
        worker = self._worker_for(mid)
        if mid not in worker.loaded:
            if mid not in worker.loading:
                worker.loading[mid] = (time.monotonic(), self._estimate(spec))
                worker.send("load", spec.wire())
            if not wait_for_model:
                started, estimate = worker.loading[mid]
                remaining = max(1.0, estimate - (time.monotonic() - started))
                raise InferenceError(
                    503,
                    f"Model {spec.repo} is currently loading",
                    headers={"Retry-After": str(int(remaining + 0.999))},
                    estimated_time=round(remaining, 1),
                )
        req = Request(f"r{next(self.ids)}", spec, job, self.loop.create_future(), worker=worker)
        if job.stream:
            req.tokens = asyncio.Queue()
        self.active += 1
        lane = self.lanes.setdefault((worker.index, mid, job.batch_key), Lane((worker.index, mid, job.batch_key)))
        req.lane = lane
        lane.pending.append(req)
        batching = self.settings.inference_max_batch > 1 and job.task not in GENERATION
        if not batching:
            self._flush(lane, limit=1, count=False)
        elif lane.inflight == 0:
            self._gather(lane)
        return req

    def _gather(self, lane: Lane) -> None:
        """Send the lane's next batch now if it is complete, else make sure a timer sends it."""
        max_batch = self.settings.inference_max_batch
        if len(lane.pending) >= max_batch:
            self._flush(lane)
            return
        fixed = self.settings.inference_batch_ms / 1000
        if fixed <= 0 and (lane.gathered(max_batch) or lane.wait() <= 0):
            self._flush(lane)
        elif lane.timer is None:
            lane.timer = self.loop.call_later(fixed if fixed > 0 else lane.wait(), self._flush, lane)

    def _estimate(self, spec: ModelSpec) -> float:
        """Seconds a load should take: the last load of these files, else a guess from their size."""
        known = self.load_seconds.get(spec.model_id)
        return known if known is not None else 3.0 + spec.weight_bytes / 200e6

    def _worker_for(self, mid: str) -> Worker:
        for w in self.workers:
            if mid in w.loaded or mid in w.loading:
                return w
        return min(self.workers, key=lambda w: (len(w.loaded) + len(w.loading), len(w.inflight)))

    def _flush(self, lane: Lane, limit: int | None = None, count: bool = True) -> None:
        if lane.timer is not None:
            lane.timer.cancel()
            lane.timer = None
        worker = self.workers[lane.key[0]]
        if not worker.alive:
            return  # sent once it is back (see _restart)
        take = limit or self.settings.inference_max_batch
        batch, lane.pending = lane.pending[:take], lane.pending[take:]
        batch = [r for r in batch if not r.future.done()]
        if not batch:
            return
        batch_id = next(self.ids)
        worker.batches[batch_id] = (lane, len(batch), time.monotonic()) if count else None
        if count:
            lane.inflight += 1
        items = []
        for r in batch:
            r.sent = True
            worker.inflight[r.id] = r
            params = {**r.job.params, "_stream": True} if r.job.stream else r.job.params
            items.append((r.id, r.job.inputs, params))
        self.stats.batches += 1
        self.stats.batched_requests += len(batch)
        worker.send("batch", batch_id, batch[0].spec.wire(), batch[0].job.task, items)
        if not count and lane.pending:
            self._flush(lane, limit=1, count=False)

    # --- answers ----------------------------------------------------------------------------

    def on_message(self, worker: Worker, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "result":
            req = worker.inflight.pop(msg[1], None)
            if req is not None:
                if req.lane is not None:
                    req.lane.answering()
                if req.tokens is not None:
                    req.tokens.put_nowait(None)
                if not req.future.done():
                    req.future.set_result((msg[2], msg[3]))
                req.progress.set()
        elif kind == "token":
            req = worker.inflight.get(msg[1])
            if req is not None and req.tokens is not None:
                req.tokens.put_nowait((msg[2], msg[3]))
                req.progress.set()
        elif kind == "done":
            running = worker.batches.pop(msg[1], None)
            if running is not None:
                lane, size, sent = running
                lane.inflight -= 1
                seconds = time.monotonic() - sent
                self.stats.batch_seconds += seconds
                lane.finished(size, seconds)
                if lane.pending and lane.inflight == 0:
                    self._gather(lane)
        elif kind == "loaded":
            worker.loading.pop(msg[1], None)
            worker.loaded[msg[1]] = msg[3]
            self.load_seconds[msg[1]] = msg[2]
            self.failed.pop(msg[1], None)
        elif kind == "load_failed":
            worker.loading.pop(msg[1], None)
            self.failed[msg[1]] = (time.monotonic(), msg[2])
        elif kind == "evicted":
            worker.loaded.pop(msg[1], None)

    def on_death(self, worker: Worker, proc: subprocess.Popen[bytes], code: int) -> None:
        """A worker process ended: fail what it was running (a clear 502), forget its models, start anew."""
        if worker.proc is not proc or not worker.alive or self.closed:
            return
        log.error("inference worker %d (pid %d) died with exit code %s; restarting it", worker.index, proc.pid, code)
        worker.drain()  # answers it sent before dying still count
        worker.alive = False  # until it is restarted, requests wait in their lanes
        worker._close()
        for req in worker.inflight.values():
            if req.tokens is not None:
                req.tokens.put_nowait(None)
            if not req.future.done():
                req.future.set_result(
                    (
                        502,
                        f"The inference worker stopped (exit code {code}) while running this request; it has been restarted",
                    )
                )
        worker.inflight.clear()
        worker.loaded.clear()
        worker.loading.clear()
        worker.batches.clear()
        worker.restarts += 1
        worker.deaths.append(time.monotonic())
        for lane in self.lanes.values():
            if lane.key[0] == worker.index:
                lane.inflight = 0
        # a worker dying over and over (a model that kills it on load, a broken install) restarts slower
        recent = sum(1 for t in worker.deaths if time.monotonic() - t < 60)
        self.loop.call_later(0 if recent <= 3 else min(30, 2 ** (recent - 3)), self._restart, worker)

    def _restart(self, worker: Worker) -> None:
        if self.closed:
            return
        worker.loading.clear()  # loads asked for while it was down were never sent
        worker.start()
        for lane in self.lanes.values():
            if lane.key[0] == worker.index and lane.pending:
                self._flush(lane)

    def finish(self, req: Request, status: int) -> None:
        """The request is answered (or abandoned): count it, and stop the worker's part if still running."""
        self.active -= 1
        self.stats.record(req.spec, req.job.task, status, time.monotonic() - req.started)
        if not req.future.done():
            req.future.cancel()
        if req.lane is not None and req in req.lane.pending:
            req.lane.pending.remove(req)
        elif req.worker is not None and req.id in req.worker.inflight:
            req.worker.inflight.pop(req.id, None)
            req.worker.send("cancel", req.id)

    def report(self, visible: Callable[[int, int, bool], bool]) -> dict[str, Any]:
        """The numbers /api/inference/stats shows; per-model ones only where `visible(repo_id, owner_id, private)`."""
        return {
            "queue": {"active": self.active, "limit": self.settings.inference_queue_size},
            "batching": {
                "max_batch": self.settings.inference_max_batch,
                "batches": self.stats.batches,
                "requests": self.stats.batched_requests,
                "mean_batch_size": round(self.stats.batched_requests / self.stats.batches, 2)
                if self.stats.batches
                else 0,
                "batch_seconds": round(self.stats.batch_seconds, 3),
            },
            "workers": [
                {
                    "pid": w.proc.pid if w.proc else None,
                    "restarts": w.restarts,
                    "loaded_models": len(w.loaded),
                    "loaded_bytes": sum(w.loaded.values()),
                    "loading": len(w.loading),
                    "running": len(w.inflight),
                }
                for w in self.workers
            ],
            "models": self.stats.report(visible),
        }

    def shutdown(self) -> None:
        self.closed = True
        for w in self.workers:
            w.stop()
