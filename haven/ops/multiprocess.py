"""The metrics directory of one `haven serve`, set up before prometheus_client is imported anywhere.

prometheus_client decides at import whether samples go to shared files, and granian forks its workers
from the main process: so the main process exports the directory first and imports the metrics after.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_directory(data_dir: Path, port: int) -> Path:
    """Empty this server's metrics directory and export it to the worker processes about to start.

    One directory per host and port: several servers may share the data dir (and its volume), and each
    is one scrape target whose files must not mix with the others'."""
    path = data_dir.resolve() / "metrics" / f"{socket.gethostname()}-{port}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    return path
