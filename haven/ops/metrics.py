"""Prometheus metrics, aggregated over every process of one `haven serve` (prometheus_client multiprocess).

`haven serve` points PROMETHEUS_MULTIPROC_DIR at a directory of its own under the data dir before its
worker processes start (haven.ops.multiprocess); each process then writes its samples to memory-mapped files
there, and whichever process answers /metrics sums them. Without that variable (an app built in-process)
the metrics are this process's alone. What belongs to the whole hub rather than a process (jobs waiting,
storage used) is read from the database at scrape time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from haven import __version__
from haven.db import Database
from haven.ops.multiprocess import ENV

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
JOB_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600)

REQUESTS = Counter("haven_http_requests", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "haven_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response body",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
BYTES_SENT = Counter("haven_http_response_bytes", "Response body bytes sent", ["route", "method"])
IN_FLIGHT = Gauge("haven_http_requests_in_flight", "Requests being answered", multiprocess_mode="livesum")
JOBS_RUN = Counter("haven_jobs_run", "Background jobs run, by outcome (done or failed)", ["kind", "outcome"])
JOB_SECONDS = Histogram("haven_job_duration_seconds", "Time one background job ran", ["kind"], buckets=JOB_BUCKETS)
PROCESS_START = Gauge(
    "haven_process_start_time_seconds", "Start time of each live Haven process", multiprocess_mode="liveall"
)
PROCESS_MEMORY = Gauge(
    "haven_process_resident_memory_bytes", "Resident memory of each live Haven process", multiprocess_mode="liveall"
)
MEMORY_EVERY = 1.0  # seconds between refreshes of this process's memory gauge
_memory_read = 0.0


def process_stopped() -> None:
    """Drop this process's live gauges (its in-flight count and memory) from the sums."""
    if os.environ.get(ENV):
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid())


def process_started() -> None:
    PROCESS_START.set(time.time())
    sample_memory(force=True)


def sample_memory(force: bool = False) -> None:
    """Refresh this process's resident memory (cheap, at most once a second)."""
    global _memory_read
    now = time.monotonic()
    if not force and now - _memory_read < MEMORY_EVERY:
        return
    _memory_read = now
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return
    PROCESS_MEMORY.set(pages * os.sysconf("SC_PAGE_SIZE"))


def observe_request(route: str, method: str, status: int, seconds: float, sent: int) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)
    if sent:
        BYTES_SENT.labels(route, method).inc(sent)
    sample_memory()


def observe_job(kind: str, ok: bool, seconds: float) -> None:
    JOBS_RUN.labels(kind, "done" if ok else "failed").inc()
    JOB_SECONDS.labels(kind).observe(seconds)


class HubCollector:
    """Gauges about the hub as a whole, read from the database when scraped."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        from haven.jobs.models import Job
        from haven.repos.models import Repo

        jobs = GaugeMetricFamily(
            "haven_jobs", "Background jobs not yet done, by kind and state", labels=["kind", "state"]
        )
        repos = GaugeMetricFamily("haven_repositories", "Repositories, by type", labels=["type"])
        with self.db.read() as session:
            for kind, state, n in session.execute(
                select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
            ):
                jobs.add_metric([kind, state], n)
            used = session.scalar(select(func.coalesce(func.sum(Repo.used_storage), 0)))
            for kind, n in session.execute(select(Repo.type, func.count()).group_by(Repo.type)):
                repos.add_metric([kind], n)
        yield jobs
        yield repos
        yield GaugeMetricFamily(
            "haven_storage_used_bytes", "Bytes the repositories use (git and LFS)", value=int(used or 0)
        )
        info = GaugeMetricFamily("haven_build_info", "Haven's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


def exposition(db: Database) -> tuple[bytes, str]:
    """The metrics page: every process's samples (summed as each metric's mode says) plus the hub's."""
    registry = CollectorRegistry()
    if os.environ.get(ENV):
        MultiProcessCollector(registry)
    else:
        for collector in (
            REQUESTS,
            LATENCY,
            BYTES_SENT,
            IN_FLIGHT,
            JOBS_RUN,
            JOB_SECONDS,
            PROCESS_START,
            PROCESS_MEMORY,
        ):
            registry.register(collector)
    registry.register(HubCollector(db))
    return generate_latest(registry), CONTENT_TYPE_LATEST
