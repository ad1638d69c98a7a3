"""Migration 0015 matches the mirror's models, and goes down and up again cleanly."""

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

TABLES = {"mirror_namespaces", "mirror_repos"}


def test_the_mirror_tables_have_no_drift_and_0015_downgrades_and_upgrades() -> None:
    db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    db.migrate()
    with db.engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in drift if "mirror_" in str(d)] == []
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011")
        assert not TABLES & set(inspect(conn).get_table_names())
        command.upgrade(cfg, "head")
        assert set(inspect(conn).get_table_names()) >= TABLES
    db.dispose()
