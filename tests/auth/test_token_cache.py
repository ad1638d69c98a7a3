"""The token cache: a token in steady use is looked up again in the background before its entry expires
(so the requests of a busy client never wait for the database), and what the cache serves is never older
than its ttl: a revoked token still stops working within it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from haven.auth import service
from haven.auth.service import Authenticator
from haven.config import Settings
from haven.hub import Hub

TTL = 1.0


@pytest.fixture
def hub_and_token(tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    hub = Hub.open(Settings(data_dir=tmp_path / "data"))
    with hub.db.write() as session:
        service.create_user(session, "alice", email="alice@example.org")
        token = service.create_token(session, "alice")
    yield hub, token
    hub.close()


class Runner:
    """Runs what the cache hands it at once (the server hands it to a thread), counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fn: Callable[[], None]) -> None:
        self.calls += 1
        fn()


def test_a_token_in_steady_use_never_drops_out_of_the_cache(hub_and_token: tuple[Hub, str]) -> None:
    hub, token = hub_and_token
    auth = Authenticator(hub.db, ttl=TTL)
    auth.from_token(token)
    run = Runner()
    assert auth.cached(token, refresh=run) is not None
    assert run.calls == 0  # a fresh entry is served as it is
    deadline = time.monotonic() + 3 * TTL
    while time.monotonic() < deadline:  # well past the first entry's expiry
        actor = auth.cached(token, refresh=run)
        assert actor is not None and actor.name == "alice"
        time.sleep(TTL / 10)
    assert 3 <= run.calls <= 7  # about one lookup per half ttl, not one per request
    assert auth.cached(token) is not None


def test_a_revoked_token_leaves_the_cache_within_its_ttl(hub_and_token: tuple[Hub, str]) -> None:
    hub, token = hub_and_token
    auth = Authenticator(hub.db, ttl=TTL)
    auth.from_token(token)
    with hub.db.write() as session:
        assert service.revoke_token(session, token)
    run = Runner()
    revoked = time.monotonic()
    while auth.cached(token, refresh=run) is not None:
        assert time.monotonic() - revoked < TTL
        time.sleep(TTL / 20)
    assert run.calls == 1  # the background lookup found it revoked and dropped it
    assert auth.cached(token) is None


def test_without_a_runner_entries_simply_expire(hub_and_token: tuple[Hub, str]) -> None:
    hub, token = hub_and_token
    auth = Authenticator(hub.db, ttl=TTL)
    auth.from_token(token)
    assert auth.cached(token) is not None
    time.sleep(TTL * 1.1)
    assert auth.cached(token) is None
