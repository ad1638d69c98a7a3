"""`haven worker`: background jobs in a process of their own, beside or instead of the servers' job threads."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from haven.cli import DataDir, _settings, app

log = logging.getLogger("haven.jobs")
SIGNAL_POLL = 0.5  # seconds between the main thread's looks for a stop signal


@app.command()
def worker(
    kinds: Annotated[str | None, typer.Option(help="Job kinds to take, comma-separated (default: every kind).")] = None,
    threads: Annotated[int, typer.Option(min=1, help="Threads per lane (slow kinds have a lane each).")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Run background jobs (metadata, scans, dataset conversions, webhooks) until SIGTERM or Ctrl-C.

    Any number may run, on any host sharing the database and storage; a job goes to exactly one of them.
    A stopping worker finishes the jobs it is running (up to HAVEN_SHUTDOWN_TIMEOUT seconds)."""
    from haven.hub import DataDirectoryMissing, Hub
    from haven.jobs import registry
    from haven.ops.logs import configure_logging

    settings = _settings(data_dir)
    configure_logging(settings)
    try:
        chosen = registry.parse_kinds(kinds)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--kinds") from None
    try:
        hub = Hub.attach(settings, migrate=True)  # opens what `haven serve` made; a fresh database is brought up
    except DataDirectoryMissing as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    jobs = registry.build_worker(hub, threads, chosen)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    jobs.start()
    log.info("worker running %s with %d thread(s) per lane", ", ".join(chosen), threads)
    # Woken every SIGNAL_POLL seconds: Python runs a signal's handler in the main thread, and the kernel may
    # deliver SIGTERM to one of the job threads instead, leaving an endless wait() asleep for good (a test
    # saw the worker outlive SIGTERM by a minute).
    while not stopping.wait(SIGNAL_POLL):
        pass
    log.info("worker stopping; finishing the jobs in hand")
    jobs.stop(timeout=settings.shutdown_timeout)
    hub.close()
    if jobs.busy:
        raise typer.Exit(1)  # a job was cut short; its lease expires and another worker takes it again
