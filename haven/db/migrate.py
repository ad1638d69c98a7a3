"""Runs Alembic migrations programmatically, so `haven serve` can create and upgrade the database itself."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several processes may start at once; one migrates, the others wait.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(724011)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _vacuum(engine, cfg.attributes.get(VACUUM, []))


VACUUM = "vacuum"  # config attribute: tables a migration rewrote (see _vacuum)


def vacuum_after(table: str) -> None:
    """Called by a migration that rewrites `table` on PostgreSQL: vacuum it once the migration commits."""
    context.config.attributes.setdefault(VACUUM, []).append(table)


def _vacuum(engine: Engine, tables: list[str]) -> None:
    """PostgreSQL: VACUUM (ANALYZE) the tables migrations rewrote. A rewritten table has no page marked
    all-visible, so every index-only walk of a listing would visit the table for each entry until autovacuum
    came by, which a rewrite without dead rows does not call for; VACUUM cannot run inside the migration's
    transaction."""
    if engine.dialect.name != "postgresql" or not tables:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in dict.fromkeys(tables):
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
