"""Shared fixtures: real Haven servers (SQLite and PostgreSQL), users with tokens, and real clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import TEMPLATE_DB, Postgres, Server, clone_seeded, create_template_database, tempdir

# The clients must never reach outside: no telemetry, no update checks, no safetensors conversion bot.
os.environ.update(
    {
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "DISABLE_SAFETENSORS_CONVERSION": "1",
        "HF_HUB_DISABLE_XET": "1",  # until Haven speaks Xet (issue 3)
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
)
os.environ.pop("HF_TOKEN", None)

BACKENDS = ["sqlite", "postgres"]


@dataclass
class Hub:
    """A running server with its cast: alice (owner of org acme), bob (another user), carol (acme reader),
    dave (acme writer), erin (acme contributor), root (site admin). `tokens[name]` is a write token, `read_tokens[name]` read-only."""

    server: Server
    backend: str
    tokens: dict[str, str]
    read_tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, user: str | None = "alice", read_only: bool = False):  # type: ignore[no-untyped-def]
        from huggingface_hub import HfApi

        token = None if user is None else (self.read_tokens if read_only else self.tokens)[user]
        return HfApi(endpoint=self.url, token=token if token else False)

    def client_env(self, user: str | None = "alice", home: Path | None = None) -> dict[str, str]:
        """Environment for a client subprocess (transformers, datasets, hf CLI)."""
        env = {**os.environ, "HF_ENDPOINT": self.url}
        if user is not None:
            env["HF_TOKEN"] = self.tokens[user]
        if home is not None:
            env["HF_HOME"] = str(home)
        return env


def start_hub(prefix: str, pg: Postgres | None = None, env: Mapping[str, str] | None = None) -> Hub:
    """A seeded server of its own (SQLite, or a fresh database on `pg`), with these HAVEN_* settings."""
    root = tempdir(prefix)
    url = pg.create_database(f"haven_{uuid.uuid4().hex[:8]}") if pg else None
    server = Server(root / "data", database_url=url, extra_env=dict(env or {}))
    server.data_dir.mkdir(parents=True)
    tokens, read_tokens = _seed(server)
    server.start()
    return Hub(server, "postgres" if pg else "sqlite", tokens, read_tokens)


def _seed(server: Server) -> tuple[dict[str, str], dict[str, str]]:
    """Give a new server's empty database the cast. Migrating and seeding cost seconds per server, so each
    test process does it once per database engine and copies the result (tests/support.py: `clone_seeded`)."""
    key = server.database_url and server.database_url.rsplit("/", 1)[0]  # one template per PG cluster
    if key not in _TEMPLATES:
        template = _template_target(server)
        _TEMPLATES[key] = (template, *_seed_fresh(template.data_dir, template.database_url))
    template, tokens, read_tokens = _TEMPLATES[key]
    if not clone_seeded(template, server):
        return _seed_fresh(server.data_dir, server.database_url)
    return dict(tokens), dict(read_tokens)


_TEMPLATES: dict[str | None, tuple[Server, dict[str, str], dict[str, str]]] = {}


def _template_target(server: Server) -> Server:
    """An unstarted server whose database becomes the seeded template (a data dir, or a PG database)."""
    root = tempdir("haven-template-")
    url = server.database_url and f"{server.database_url.rsplit('/', 1)[0]}/{TEMPLATE_DB}"
    if url:
        create_template_database(url)
    template = Server(root / "data", database_url=url)
    template.data_dir.mkdir(parents=True)
    return template


def _seed_fresh(data_dir: Path, database_url: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Create the cast through the same services the `haven` CLI calls (tests/cli covers the CLI itself)."""
    from haven.auth import service
    from haven.config import Settings
    from haven.hub import Hub as HavenHub

    settings = Settings(data_dir=data_dir, database_url=database_url)
    haven = HavenHub.open(settings)
    tokens, read_tokens = {}, {}
    with haven.db.write() as session:
        for name in ("alice", "bob", "carol", "dave", "erin", "root"):
            service.create_user(session, name, email=f"{name}@example.org", admin=name == "root")
            tokens[name] = service.create_token(session, name, "tests", "write")
            read_tokens[name] = service.create_token(session, name, "tests-read", "read")
        service.create_org(session, "acme", "alice")
        service.set_member(session, "acme", "carol", "read")
        service.set_member(session, "acme", "dave", "write")
        service.set_member(session, "acme", "erin", "contributor")
    haven.close()
    return tokens, read_tokens


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres | None]:
    if not Postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL must be installed in CI (.ci/run installs it)")
        yield None
        return
    pg = Postgres(tempdir("haven-pg-"))
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def sqlite_hub() -> Iterator[Hub]:
    hub = start_hub("haven-sqlite-")
    yield hub
    hub.server.stop()


@pytest.fixture(scope="session")
def postgres_hub(postgres: Postgres | None) -> Iterator[Hub]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed")
    hub = start_hub("haven-postgres-", postgres)
    yield hub
    hub.server.stop()


@pytest.fixture(params=BACKENDS)
def hub(request: pytest.FixtureRequest) -> Hub:
    """A running hub, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_hub")


@pytest.fixture
def repo_name() -> str:
    return f"r{uuid.uuid4().hex[:10]}"


@pytest.fixture
def repo_id(hub: Hub, repo_name: str) -> str:
    """A fresh public model repository owned by alice."""
    hub.api("alice").create_repo(repo_name)
    return f"alice/{repo_name}"


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A private HF cache per test, so no test sees another's downloads."""
    path = tmp_path / "hf-cache"
    path.mkdir()
    return path
