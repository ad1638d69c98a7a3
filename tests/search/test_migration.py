"""Migration 0004 on a database that already has repositories: nothing is lost, names become searchable."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import text

from haven.db import Database
from haven.db.migrate import alembic_config
from haven.search import index_for
from tests.support import tempdir


def test_upgrade_keeps_children_and_indexes_existing_names() -> None:
    db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(
            text(
                "INSERT INTO accounts (id, name, kind, is_admin, created_at) VALUES (1, 'ann', 'user', 0, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO repos (id, type, owner_id, namespace, name, full_id, storage_key, private, disabled,"
                " created_at, last_modified, downloads, downloads_all_time, likes, tags, used_storage)"
                " VALUES (1, 'model', 1, 'ann', 'TinyBert', 'ann/TinyBert', :key, 0, 0, '2026-01-01', '2026-01-01',"
                " 7, 7, 0, '[]', 0)"
            ),
            {"key": uuid.uuid4().hex},
        )
        conn.execute(text("INSERT INTO repo_tags (repo_id, tag) VALUES (1, 'pytorch')"))
    db.migrate()
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM repo_tags")).scalar() == 1
        assert session.execute(text("SELECT downloads FROM repo_activity WHERE repo_id = 1")).scalar() == 7
        assert list(session.scalars(index_for("sqlite").candidates(["bert"]))) == [1]
    db.dispose()


def test_0017_adds_the_tag_membership_index_without_drift_and_downgrades() -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    import haven.db.models  # noqa: F401 (registers every table)
    from haven.db.base import Base

    db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    db.migrate()
    with db.engine.begin() as conn:
        assert [
            d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata) if "repo_tags" in str(d)
        ] == []
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
        assert "ix_repo_tags_tag_repo_id" not in {i["name"] for i in inspect(conn).get_indexes("repo_tags")}
        command.upgrade(cfg, "head")
        assert "ix_repo_tags_tag_repo_id" in {i["name"] for i in inspect(conn).get_indexes("repo_tags")}
    db.dispose()


def test_0018_makes_each_listing_order_an_index_without_drift_and_downgrades() -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    import haven.db.models  # noqa: F401 (registers every table)
    from haven.db.base import Base
    from haven.repos.models import SORT_COLUMNS

    def order_indexes(conn: object) -> dict[str, list[str]]:
        return {
            i["name"]: i["column_names"]
            for i in inspect(conn).get_indexes("repos")
            if any(c in i["column_names"] for c in SORT_COLUMNS)
        }

    db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    db.migrate()
    with db.engine.begin() as conn:
        assert [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata) if "repos" in str(d)] == []
        assert order_indexes(conn) == {
            f"ix_repos_type_{c}_id_private": ["type", c, "id", "private"] for c in SORT_COLUMNS
        }
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0017")
        assert order_indexes(conn) == {f"ix_repos_type_{c}": ["type", c] for c in SORT_COLUMNS}
        assert {"ix_repos_namespace"} <= {i["name"] for i in inspect(conn).get_indexes("repos")}
        command.upgrade(cfg, "head")
        assert set(order_indexes(conn)) == {f"ix_repos_type_{c}_id_private" for c in SORT_COLUMNS}
        assert {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("repos")}["ix_repos_namespace_id"] == [
            "namespace",
            "id",
        ]
    db.dispose()
