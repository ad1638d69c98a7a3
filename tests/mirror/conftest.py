"""Two real hubs: an upstream Haven holding repositories (LFS and Xet, public, private, gated, datasets) and a
mirror Haven configured to pull through from it with an upstream token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, Hub, start_hub
from tests.support import Postgres, tempdir

ORG = "upco"  # the upstream's organisation: a namespace the mirror does not hold locally
SCRIPT = Path(__file__).parent / "scripts" / "client.py"
MIT_CARD = "---\nlicense: mit\n---\n# {name}\n"


def start(prefix: str, env: dict[str, str], pg: Postgres | None = None) -> Hub:
    return start_hub(prefix, pg, env)


def client(hub: Hub, *args: str, user: str | None = "alice", xet: bool = False, home: Path) -> dict[str, Any]:
    """Run scripts/client.py against `hub`; its JSON result (AssertionError with its stderr on failure)."""
    env = hub.client_env(user, home)
    if xet:
        env.pop("HF_HUB_DISABLE_XET", None)
    else:
        env["HF_HUB_DISABLE_XET"] = "1"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"client.py {' '.join(args)}: {proc.stderr[-4000:]}\n--- server ---\n{hub.server.logs()}")
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT:"))
    return json.loads(line[len("RESULT:") :])


@dataclass
class Upstream:
    hub: Hub
    commits: dict[str, str]  # repo id -> head commit
    files: dict[str, dict[str, bytes]]  # repo id -> path -> bytes


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def _model_files(name: str, license: str = "mit") -> dict[str, bytes]:
    return {
        "README.md": MIT_CARD.replace("mit", license).format(name=name).encode(),
        "config.json": json.dumps({"model_type": "bert", "name": name}).encode(),
        "weights.bin": os.urandom(300_000),
        "sub/extra.bin": os.urandom(50_000),
    }


UPSTREAM_REPOS: dict[str, dict[str, Any]] = {
    f"{ORG}/lfs-model": {},
    f"{ORG}/xet-model": {"xet": True},
    f"{ORG}/private-model": {"private": True},
    f"{ORG}/gated-model": {"gated": "auto"},
    f"{ORG}/gpl-model": {"license": "gpl-3.0"},
    f"{ORG}/denied-model": {},
    f"{ORG}/offline-model": {},
    f"{ORG}/concurrent-model": {},
    f"{ORG}/pulled-model": {},
    f"{ORG}/data": {"type": "dataset"},
}


def _dataset_files(name: str) -> dict[str, bytes]:
    rows = "\n".join(f"{i},text number {i} {'x' * 20}" for i in range(200))
    return {
        "README.md": MIT_CARD.format(name=name).encode(),
        "train.csv": f"id,text\n{rows}\n".encode(),
        "test.csv": b"id,text\n1,one\n2,two\n",
    }


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The upstream hub with its repositories (files over 1 kB are LFS, or Xet when uploaded through Xet)."""
    hub = start("haven-upstream-", {"HAVEN_LFS_THRESHOLD": "1000", "HAVEN_BLOB_PORT": "0"})
    work = tmp_path_factory.mktemp("upstream")
    hub.server.cli("org", "create", ORG, "--owner", "alice")
    commits, files = {}, {}
    for repo_id, spec in UPSTREAM_REPOS.items():
        folder = work / repo_id.replace("/", "_")
        repo_type = spec.get("type", "model")
        files[repo_id] = (
            _dataset_files(repo_id) if repo_type == "dataset" else _model_files(repo_id, spec.get("license", "mit"))
        )
        _write(folder, files[repo_id])
        if spec.get("xet"):  # through hf_xet: the upstream stores the files in its CAS
            commits[repo_id] = client(hub, "upload", repo_id, str(folder), xet=True, home=work / "hf")["commit"]
        else:  # the in-process client has Xet off: Git LFS
            api = hub.api()
            api.create_repo(repo_id, private=bool(spec.get("private")), repo_type=repo_type)
            commits[repo_id] = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type=repo_type).oid
        if spec.get("gated"):
            hub.api().update_repo_settings(repo_id, gated=spec["gated"])
    yield Upstream(hub, commits, files)
    hub.server.stop()


@dataclass
class Mirror:
    hub: Hub
    upstream: Upstream


def mirror_config(path: Path, upstream: Upstream, **rules: Any) -> Path:
    entry = {
        "url": upstream.hub.url,
        "token": upstream.hub.read_tokens["alice"],
        "allow": [f"{ORG}/*"],
        "deny": [f"{ORG}/denied-*"],
        "repo_types": ["model", "dataset"],
        "licenses": ["mit", "apache-2.0"],
        **rules,
    }
    path.write_text(json.dumps({"upstreams": [entry]}))
    return path


def _start_mirror(upstream: Upstream, backend: str, pg: Postgres | None) -> Mirror:
    config = mirror_config(tempdir("haven-mirror-config-") / "mirror.json", upstream)
    env = {"HAVEN_MIRROR_CONFIG": str(config), "HAVEN_MIRROR_TTL": "1", "HAVEN_MIRROR_TIMEOUT": "3"}
    env["HAVEN_BLOB_PORT"] = "0"  # no sendfile process: it may take over its 10 s to start on a loaded machine
    return Mirror(start(f"haven-mirror-{backend}-", env, pg), upstream)


@pytest.fixture(scope="session")
def sqlite_mirror(upstream: Upstream) -> Iterator[Mirror]:
    mirror = _start_mirror(upstream, "sqlite", None)
    yield mirror
    mirror.hub.server.stop()


@pytest.fixture(scope="session")
def postgres_mirror(upstream: Upstream, postgres: Postgres | None) -> Iterator[Mirror]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed")
    mirror = _start_mirror(upstream, "postgres", postgres)
    yield mirror
    mirror.hub.server.stop()


@pytest.fixture(params=BACKENDS)
def mirror(request: pytest.FixtureRequest) -> Mirror:
    """A mirror of the upstream, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_mirror")
