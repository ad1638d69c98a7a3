"""Runs Alembic migrations programmatically, so `haven serve` can create and upgrade the database itself.

Every `haven` command and every server start opens the database through `upgrade`; almost always it is at
the newest revision already. Importing Alembic and loading its scripts to learn that costs about 0.4 s of CPU
per process, so `upgrade` first compares the database's revision with the newest script's, read from the
scripts' text, and only calls Alembic when they differ (or when the scripts are not one plain chain)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)\s*$", re.M)


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    import haven.db.models  # noqa: F401  (every table registered, as the migration environment does)

    if at_head(engine):
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several processes may start at once; one migrates, the others wait.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(724011)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _vacuum(engine, cfg.attributes.get(VACUUM, []))


def at_head(engine: Engine) -> bool:
    """Whether the database is at the newest script's revision (False when unsure: Alembic then decides)."""
    head = script_head()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            stamped = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no such table yet: a new database
        return False
    return stamped == [head]


@cache
def script_head() -> str | None:
    """The revision no script names as its `down_revision`, if the scripts form one chain; else None."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:  # a merge (a tuple of parents) or an unusual layout
            return None
        revisions.add(revision[1])
        if down[1]:
            parents.add(down[1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


VACUUM = "vacuum"  # config attribute: tables a migration rewrote (see _vacuum)


def vacuum_after(table: str) -> None:
    """Called by a migration that rewrites `table` on PostgreSQL: vacuum it once the migration commits."""
    from alembic import context

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
