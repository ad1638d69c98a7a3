"""Migration 0011 matches the models (resource groups, token scopes and expiry, longer roles), and goes
down and up again cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import haven.db.models  # noqa: F401 (registers every table)
from haven.db import Database
from haven.db.base import Base
from haven.db.migrate import alembic_config
from tests.support import tempdir

TABLES = {"resource_groups", "resource_group_repos", "resource_group_members"}


def test_0011_has_no_drift_and_downgrades_and_upgrades() -> None:
    db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    db.migrate()
    with db.engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in drift if any(t in str(d) for t in (*TABLES, "'tokens'", "'memberships'"))]
    assert mine == []
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
        assert not TABLES & set(inspect(conn).get_table_names())
        assert "scopes" not in {c["name"] for c in inspect(conn).get_columns("tokens")}
        command.upgrade(cfg, "head")
        assert set(inspect(conn).get_table_names()) >= TABLES
        assert {"scopes", "expires_at"} <= {c["name"] for c in inspect(conn).get_columns("tokens")}
    db.dispose()
