"""Runs the ASGI app under granian (a Rust HTTP server; file bodies go out in 1 MiB reads, see api/responses.FileBody)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time

from haven.config import Settings
from haven.ops.multiprocess import ENV
from haven.storage.base import StorageUnavailable

BLOB_SERVER_START = 60.0  # seconds; it imports much of the app, slow on a loaded machine


def app_factory():  # type: ignore[no-untyped-def]
    """Builds the app inside each worker process from the environment `run` prepared."""
    from haven.api.files import route_resolve_first
    from haven.app import create_app
    from haven.hub import Hub
    from haven.ops.logs import configure_logging

    settings = Settings()
    configure_logging(settings)
    app = create_app(settings, Hub.attach(settings))  # `run` prepared the data directory and the database
    route_resolve_first(app)
    return app


def run(settings: Settings) -> None:
    from haven.ops.multiprocess import prepare_directory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prepare_directory(settings.data_dir, settings.port)  # before anything imports prometheus_client

    from granian import Granian
    from granian.constants import Interfaces

    from haven.hub import Hub
    from haven.ops.logs import configure_logging

    configure_logging(settings)
    # Migrate and prepare once, before workers start; workers then only open.
    hub = Hub.open(settings)
    try:
        hub.blobs.clean_tmp()
    except StorageUnavailable as e:  # serve anyway: what needs the object store answers 503 until it is back
        logging.getLogger("haven").warning("Could not clean temporary uploads: %s", e)
    settings.signing_key()
    hub.close()
    os.environ["HAVEN_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["HAVEN_WORKERS"] = str(settings.workers)  # the workers' rate-limit counters lock when shared
    if settings.database_url:
        os.environ["HAVEN_DATABASE_URL"] = settings.database_url
    blob_server = _start_blob_server(settings)
    logging.getLogger("haven").info(
        "Haven listening on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir
    )
    Granian(
        "haven.server:app_factory",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,  # haven.ops.middleware logs each request, with its route, user and request id
        workers_kill_timeout=settings.shutdown_timeout,
    ).serve()
    if blob_server is not None:
        blob_server.terminate()


def _start_blob_server(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start the sendfile blob server beside the workers (HAVEN_BLOB_PORT=-1 picks a free port)."""
    if settings.blob_port == 0 or settings.blob_backend != "local":  # object storage serves its own bytes
        return None
    if settings.blob_port < 0:
        with socket.socket() as s:
            s.bind((settings.host, 0))
            settings.blob_port = s.getsockname()[1]
    os.environ["HAVEN_BLOB_PORT"] = str(settings.blob_port)
    logging.getLogger("haven").info("LFS blobs served with sendfile on port %d", settings.blob_port)
    env = {k: v for k, v in os.environ.items() if k != ENV}  # its requests are not the app's: no metrics files
    proc = subprocess.Popen([sys.executable, "-m", "haven.blobserver", str(settings.port)], env=env)
    deadline = time.monotonic() + BLOB_SERVER_START
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((settings.host, settings.blob_port), timeout=1):
            return proc
        time.sleep(0.05)
    raise RuntimeError("the blob server did not start")
