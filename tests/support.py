"""Starting real services for tests and benchmarks (a Haven server subprocess and a private PostgreSQL), and
waiting for what they do in the background."""

from __future__ import annotations

import atexit
import contextlib
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

HAVEN = [sys.executable, "-m", "haven"]
T = TypeVar("T")


def wait_for(probe: Callable[[], T], timeout: float = 30.0, what: str = "the condition", interval: float = 0.05) -> T:
    """What `probe` returns once it is truthy, polled every 10 ms at first and less often up to `interval`;
    fails the test when `timeout` seconds pass first (background work takes longer on a loaded machine)."""
    deadline = time.monotonic() + timeout
    delay = min(0.01, interval)
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(delay)
        delay = min(delay * 2, interval)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haven_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `haven ...` against a data dir; returns stdout, raises with stderr on failure."""
    proc = subprocess.run(
        [*HAVEN, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"haven {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class Server:
    """A `haven serve` subprocess on a free loopback port."""

    data_dir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, "HAVEN_DATA_DIR": str(self.data_dir)}
        if self.database_url:
            env["HAVEN_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str) -> str:
        return haven_cli(self.data_dir, *args, env=self.env)

    def start(self, timeout: float = 120.0) -> None:  # generous: worker processes import the whole app
        self.log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*HAVEN, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haven serve exited early:\n{self.logs()}")
            if self.healthy():
                return
            time.sleep(0.05)
        logs = self.logs()
        self.stop(signal.SIGKILL)  # a fixture that fails here never reaches its teardown: leave nothing running
        raise RuntimeError(f"haven serve did not become ready:\n{logs}")

    def healthy(self) -> bool:
        """One GET /api/health. Plain http.client: an httpx call builds an SSL context (~40 ms of CPU), and a
        start polls dozens of times while the server's own processes need the CPU."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/api/health")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def logs(self) -> str:
        path = self.data_dir.parent / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        self.log.close()

    def kill(self) -> None:
        """kill -9 the whole server (granian's main process and its workers)."""
        self.stop(signal.SIGKILL)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    """A private PostgreSQL cluster in a temp dir, run as the `postgres` user when we are root."""

    root: Path
    port: int = field(default_factory=free_port)

    @staticmethod
    def available() -> bool:
        return _pg_bin() is not None

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True)

    def start(self) -> None:
        bindir = _pg_bin()
        assert bindir is not None, "PostgreSQL is not installed (apt-get install postgresql)"
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        self._run(str(bindir / "initdb"), "-D", str(data), "-U", "haven", "--auth=trust", "-E", "UTF8")
        self.bindir = bindir
        self.resume()

    def resume(self) -> None:
        """Start the cluster again after `stop` (a restart: same data, same port)."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        data, log = str(self.root / "data"), str(self.root / "pg.log")
        self._run(str(self.bindir / "pg_ctl"), "-D", data, "-o", opts, "-l", log, "-w", "start")

    def create_database(self, name: str) -> str:
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "haven", name)
        return f"postgresql+psycopg://haven@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")


TEMPLATE_DB = "haven_seeded_template"


def _maintenance(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(f"{url.rsplit('/', 1)[0]}/postgres", isolation_level="AUTOCOMMIT")


def create_template_database(url: str) -> None:
    """Create the (empty) database `url` names, the seeded template of its cluster."""
    from sqlalchemy import text

    engine = _maintenance(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))
    finally:
        engine.dispose()


def clone_seeded(template: Server, server: Server) -> bool:
    """Give `server` a copy of the template's migrated, seeded database, if its own is still empty
    (SQLite: no file yet; PostgreSQL: no tables). False leaves the server's database untouched."""
    if server.database_url is None:
        target = server.data_dir / "haven.db"
        if target.exists():
            return False
        import sqlite3

        server.data_dir.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(template.data_dir / "haven.db")
        with contextlib.closing(source), contextlib.closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        return True
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(server.database_url)
    try:
        if inspect(engine).get_table_names():
            return False
    finally:
        engine.dispose()
    assert template.database_url is not None
    name, source = server.database_url.rsplit("/", 1)[1], template.database_url.rsplit("/", 1)[1]
    admin = _maintenance(server.database_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
            # The copy's sequence pages carry the template's pre-logged values; until a checkpoint, nextval
            # writes no WAL for them, so a crash (the faults tests stop PostgreSQL immediately) would rewind
            # the copy's sequences to the moment of copying and hand out ids again.
            conn.execute(text("CHECKPOINT"))
    finally:
        admin.dispose()
    return True


def tempdir(prefix: str) -> Path:
    """A directory removed when the test process exits (kept with HAVEN_KEEP_TEST_DATA=1, for post-mortems):
    servers' data dirs hold gigabytes after a full run."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if not os.environ.get("HAVEN_KEEP_TEST_DATA"):
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
