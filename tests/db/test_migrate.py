"""Opening a database migrates it; one already at the newest revision is recognised without Alembic (every CLI
command and server start opens it), and any other is handed to Alembic."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from haven.db import Database
from haven.db.migrate import alembic_config, at_head, script_head


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    assert script_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_new_database_is_migrated_to_the_head(db: Database) -> None:
    assert not at_head(db.engine)  # no alembic_version table yet
    db.migrate()
    assert at_head(db.engine)
    with db.read() as session:
        assert session.scalar(text("SELECT version_num FROM alembic_version")) == script_head()
        assert session.scalar(text("SELECT count(*) FROM accounts")) == 0
    db.migrate()  # at the head: nothing to do, and nothing fails


def test_a_database_behind_the_head_is_upgraded(db: Database) -> None:
    db.migrate()
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    assert not at_head(db.engine)
    db.migrate()
    assert at_head(db.engine)
