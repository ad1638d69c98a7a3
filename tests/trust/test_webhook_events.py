"""Webhook events in-process: who hears of what, and a delivery log that stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from haven.auth import service as auth
from haven.auth.permissions import Actor
from haven.config import Settings
from haven.hub import Hub
from haven.repos import service
from haven.webhooks import events
from haven.webhooks import service as webhooks
from haven.webhooks.models import DELIVERED, WebhookDelivery


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub.open(Settings(data_dir=tmp_path / "data", webhooks_allow_private=True))
    yield h
    h.close()


def test_the_delivery_log_keeps_the_newest_finished_deliveries(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    with hub.db.write() as session:
        user = auth.create_user(session, "ann")
        actor = Actor(user_id=user.id, name="ann")
    hook = webhooks.create_webhook(
        hub, actor, webhooks.Spec(url="http://127.0.0.1:9/", watched=[{"type": "user", "name": "ann"}])
    )
    row = service.create_repo(hub, actor, repo_type="model", namespace="ann", name="m")
    monkeypatch.setattr(events, "KEEP_DELIVERIES", 2)
    for _ in range(4):
        with hub.db.write() as session:
            for d in session.scalars(select(WebhookDelivery)):
                d.status = DELIVERED  # as if sent
            repo = session.merge(row)
            events.emit_repo(session, hub.settings, repo, "update", events.CONTENT)
    log = webhooks.list_deliveries(hub, actor, hook["id"], limit=100)
    assert [(d["id"], d["status"]) for d in log] == [("5", "pending"), ("4", DELIVERED)]  # the newest two


def test_deliveries_still_under_way_are_never_pruned(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    with hub.db.write() as session:
        user = auth.create_user(session, "bo")
        actor = Actor(user_id=user.id, name="bo")
    hook = webhooks.create_webhook(
        hub, actor, webhooks.Spec(url="http://127.0.0.1:9/", watched=[{"type": "user", "name": "bo"}])
    )
    row = service.create_repo(hub, actor, repo_type="model", namespace="bo", name="m")
    monkeypatch.setattr(events, "KEEP_DELIVERIES", 1)
    for _ in range(3):
        with hub.db.write() as session:
            events.emit_repo(session, hub.settings, session.merge(row), "update", events.CONTENT)
    assert len(webhooks.list_deliveries(hub, actor, hook["id"], limit=100)) == 4  # create + 3, none finished
