"""Helpers for the trust tests (security scans, webhooks, audit log) on the shared real servers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import BACKENDS, Hub, _seed
from tests.support import Server, tempdir


def scanned(hub: Hub, repo_id: str, timeout: float = 60.0) -> Any:
    """model_info with the security status, once the scan of the head of main has finished."""
    api = hub.api("alice")
    deadline = time.monotonic() + timeout
    while True:
        info = api.model_info(repo_id, securityStatus=True)
        if info.security_repo_status and info.security_repo_status["scansDone"]:
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"the scan of {repo_id} did not finish: {info.security_repo_status}")
        time.sleep(0.1)


def file_security(hub: Hub, repo_id: str, *paths: str) -> dict[str, Any]:
    """path -> the client's BlobSecurityInfo for each path (get_paths_info with expand=True)."""
    infos = hub.api("alice").get_paths_info(repo_id, list(paths), expand=True)
    return {i.path: i.security for i in infos}


@pytest.fixture(scope="session", params=BACKENDS)
def whub(request: pytest.FixtureRequest) -> Iterator[Hub]:
    """A hub (SQLite, then PostgreSQL) whose webhooks may reach loopback (the tests' receivers) and retry
    within a second, with a site admin who can log in on the web."""
    url = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        if pg is None:
            pytest.skip("PostgreSQL is not installed")
        url = pg.create_database(f"haven_trust_{uuid.uuid4().hex[:8]}")
    root = tempdir("haven-webhooks-")
    env = {"HAVEN_WEBHOOKS_ALLOW_PRIVATE": "true", "HAVEN_WEBHOOKS_RETRY_SECONDS": "0.3", "HAVEN_JOB_WORKERS": "2"}
    server = Server(root / "data", database_url=url, extra_env=env)
    server.data_dir.mkdir(parents=True)
    tokens, read_tokens = _seed(server)
    _seed_warden(server)
    server.start()
    yield Hub(server, request.param, tokens, read_tokens)
    server.stop()


WARDEN = "warden"  # a site admin who logs in on the web (the shared cast has no passwords)
WARDEN_PASSWORD = "correct horse battery"


def _seed_warden(server: Server) -> None:
    from haven.auth import service
    from haven.config import Settings
    from haven.hub import Hub as HavenHub

    haven = HavenHub.open(Settings(data_dir=server.data_dir, database_url=server.database_url))
    with haven.db.write() as session:
        service.create_user(session, WARDEN, password=WARDEN_PASSWORD, admin=True)
    haven.close()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on loopback that answers `fail_first` requests with 500, then 200, keeping them all."""

    fail_first: int = 0
    on_first: Callable[[], None] | None = None  # run before the first request is answered
    requests: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                if len(receiver.requests) == 1 and receiver.on_first is not None:
                    receiver.on_first()
                status = 500 if len(receiver.requests) <= receiver.fail_first else 200
                receiver.answered.append(status)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.requests)} requests, not {count}")
            time.sleep(0.05)
        return self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


from tests.git.conftest import git  # noqa: E402, F401 - the git tests' fixture, for pushes here
