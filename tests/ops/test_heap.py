"""A server worker moves what start-up made out of the cyclic collector's reach (HAVEN_GC_FREEZE), so that
the collector's full passes do not walk the whole app and stall a request."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from haven.app import create_app
from haven.config import Settings


def collected_generations_hold(obj: object) -> bool:
    """Whether the collector's generations (not the permanent, frozen one) hold `obj`."""
    return any(o is obj for o in gc.get_objects())


def test_once_started_the_app_is_frozen_out_of_full_collections(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, job_workers=0))
    try:
        with TestClient(app) as client:
            assert client.get("/api/health").status_code == 200
            assert gc.get_freeze_count() > 0
            assert not collected_generations_hold(app.router)
            made_later: dict[str, list[int]] = {"cycle": []}
            assert collected_generations_hold(made_later)  # what requests make is collected as usual
    finally:
        gc.unfreeze()


def test_freezing_can_be_turned_off(tmp_path: Path) -> None:
    gc.unfreeze()
    app = create_app(Settings(data_dir=tmp_path, job_workers=0, gc_freeze=False))
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert gc.get_freeze_count() == 0
        assert collected_generations_hold(app.router)
