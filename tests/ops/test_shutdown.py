"""SIGTERM stops a server gracefully: uploads in flight finish and are stored whole; new connections are refused."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Hub
from tests.faults.conftest import blob_path, client_for, sha256, upload_href
from tests.ops.conftest import own_hub
from tests.support import wait_for

CHUNK = 1 << 20
CHUNKS = 12


@pytest.fixture
def doomed() -> Iterator[Hub]:
    """A server of the test's own with two worker processes, since it gets stopped."""
    hub = own_hub(HAVEN_WORKERS="2")
    yield hub
    hub.server.stop()


def slow_body(data: bytes, started: threading.Event) -> Iterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]
        started.set()
        time.sleep(0.3)


def refuses_connections(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/health", timeout=2)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_sigterm_lets_an_upload_in_flight_finish_and_refuses_new_connections(doomed: Hub) -> None:
    http = client_for(doomed)
    name = f"shutdown-{uuid.uuid4().hex[:8]}"
    doomed.api("alice").create_repo(name)
    data = os.urandom(CHUNK * CHUNKS)
    oid = sha256(data)
    href = upload_href(http, doomed, f"alice/{name}", oid, len(data))
    started = threading.Event()
    result: dict[str, object] = {}

    def upload() -> None:
        try:
            result["status"] = httpx.put(href, content=slow_body(data, started), timeout=60).status_code
        except httpx.HTTPError as e:
            result["error"] = e

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert started.wait(30), "the upload never started"
    assert doomed.server.proc is not None
    os.kill(doomed.server.proc.pid, signal.SIGTERM)  # what `kill`, systemd and docker stop send
    wait_for(lambda: refuses_connections(doomed.url), timeout=15, what="new connections refused")
    assert uploader.is_alive(), "the upload should still be going when new connections are already refused"
    uploader.join(60)
    assert result == {"status": 200}
    assert sha256(blob_path(doomed, oid).read_bytes()) == oid
    doomed.server.proc.wait(30)
    assert doomed.server.proc.returncode == 0
