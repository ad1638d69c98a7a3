"""Fixtures for the recovery tests: hubs of their own (faults are injected into them), the CLI, and helpers
that reach into a hub's stores the way a disk fault or a crash would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import BACKENDS, Hub, _seed
from tests.support import HAVEN, Postgres, Server, tempdir

START_TIMEOUT = 180.0  # a busy shared machine can take a minute to start a server
# Bytes from the main port: the sendfile blob server gets 10 s to start (haven/server.py), which a loaded
# machine misses; recovery does not depend on how bytes leave the server.
SERVER_ENV = {"HAVEN_BLOB_PORT": "0"}


def start_hub(backend: str, pg: Postgres | None) -> Hub:
    root = tempdir(f"haven-recovery-{backend}-")
    url = pg.create_database(f"haven_{uuid.uuid4().hex[:8]}") if pg else None
    server = Server(root / "data", database_url=url, extra_env=dict(SERVER_ENV))
    server.data_dir.mkdir(parents=True)
    tokens, read_tokens = _seed(server)
    start(server)
    return Hub(server, backend, tokens, read_tokens)


def start(server: Server, attempts: int = 3) -> None:
    """Start a server, again if it fails: on a loaded machine its blob server can miss its 10 s to start."""
    for attempt in range(attempts):
        try:
            server.start(timeout=START_TIMEOUT)
            return
        except RuntimeError:
            server.stop()  # the whole process group, blob server included
            if attempt == attempts - 1:
                raise


@pytest.fixture(scope="module", params=BACKENDS)
def own_hub(request: pytest.FixtureRequest, postgres: Postgres | None) -> Iterator[Hub]:
    """A hub of this test module's own (SQLite, then PostgreSQL): faults injected here reach no other module."""
    if request.param == "postgres" and postgres is None:
        pytest.skip("PostgreSQL is not installed")
    hub = start_hub(request.param, postgres if request.param == "postgres" else None)
    yield hub
    hub.server.stop()


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def haven(hub: Hub, *args: str, env: dict[str, str] | None = None, data_dir: Path | None = None) -> Run:
    """`haven ARGS --data-dir <the hub's>` with the hub's database (or another data dir, and a database in
    `env`); the exit code is the caller's to judge."""
    proc = subprocess.run(
        [*HAVEN, *args, "--data-dir", str(data_dir or hub.server.data_dir)],
        capture_output=True,
        text=True,
        env={**hub.server.env, **(env or {})},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def sql(hub: Hub, statement: str, **params: object) -> list:
    """Run SQL against the hub's database (to inject faults, or age rows)."""
    url = hub.server.database_url or f"sqlite:///{hub.server.data_dir / 'haven.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def blob_path(hub: Hub, oid: str) -> Path:
    return hub.server.data_dir / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid


def age(hub: Hub, oid: str, seconds: float) -> None:
    """Make an LFS object look `seconds` old: its bytes and the rows that recorded it."""
    when = time.time() - seconds
    os.utime(blob_path(hub, oid), (when, when))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when))
    sql(hub, "UPDATE lfs_objects SET created_at = :t WHERE oid = :oid", t=stamp, oid=oid)


def age_xet_file(hub: Hub, sha256: str, seconds: float) -> list[str]:
    """Make a Xet file, its xorbs and its LFS records look `seconds` old; returns the xorbs."""
    when = time.time() - seconds
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when))
    sql(hub, "UPDATE xet_files SET created_at = :t WHERE sha256 = :s", t=stamp, s=sha256)
    sql(hub, "UPDATE lfs_objects SET created_at = :t WHERE oid = :s", t=stamp, s=sha256)
    xorbs = [
        r[0]
        for r in sql(
            hub,
            "SELECT x.xorb_hash FROM xet_file_xorbs x JOIN xet_files f ON f.hash = x.file_hash WHERE f.sha256 = :s",
            s=sha256,
        )
    ]
    for xorb in xorbs:
        sql(hub, "UPDATE xet_xorbs SET created_at = :t WHERE hash = :x", t=stamp, x=xorb)
        os.utime(xorb_path(hub, xorb), (when, when))
    return xorbs


def xorb_path(hub: Hub, xorb: str) -> Path:
    return hub.server.data_dir / "xorbs" / "sha256" / xorb[:2] / xorb[2:4] / xorb


def lfs_oid(hub: Hub, repo_id: str, path: str, revision: str = "main") -> str:
    info = hub.api().get_paths_info(repo_id, [path], revision=revision)[0]
    assert info.lfs is not None, f"{path} is not stored as LFS"
    return info.lfs.sha256


def xet_upload(hub: Hub, repo_id: str, path_in_repo: str, data: bytes, tmp: Path, revision: str = "main") -> None:
    """Upload through hf_xet (the stock client, Xet on), in a subprocess: this process's client has Xet off."""
    source = tmp / f"xet-{os.urandom(4).hex()}"
    source.write_bytes(data)
    script = (
        "import sys; from huggingface_hub import HfApi\n"
        "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_file("
        "path_or_fileobj=sys.argv[3], path_in_repo=sys.argv[4], repo_id=sys.argv[5], revision=sys.argv[6])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env.update(HF_XET_CACHE=str(tmp / "xet-cache"), HF_HOME=str(tmp / "hf-home"))
    subprocess.run(
        [sys.executable, "-c", script, hub.url, hub.tokens["alice"], str(source), path_in_repo, repo_id, revision],
        env=env,
        check=True,
        capture_output=True,
    )
