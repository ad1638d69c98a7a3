"""Migration 0004 on a database that already has repositories: nothing is lost, names become searchable."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import text

from haven.auth.permissions import Actor
from haven.db import Database
from haven.db.migrate import alembic_config
from haven.repos.listing import Query, list_repos
from haven.search import index_for
from haven.search.rank import Stretch
from haven.search.text import name_tokens
from tests.support import Postgres, tempdir


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
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
        assert order_indexes(conn) == {
            f"ix_repos_type_{c}_id_private": ["type", c, "id", "private"] for c in SORT_COLUMNS
        }
        command.downgrade(cfg, "0017")
        assert order_indexes(conn) == {f"ix_repos_type_{c}": ["type", c] for c in SORT_COLUMNS}
        assert {"ix_repos_namespace"} <= {i["name"] for i in inspect(conn).get_indexes("repos")}
        command.upgrade(cfg, "head")
        assert set(order_indexes(conn)) == {f"ix_repos_type_{c}_listing" for c in SORT_COLUMNS}
        assert {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("repos")}["ix_repos_namespace_id"] == [
            "namespace",
            "id",
        ]
    db.dispose()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_0019_ranks_documents_indexed_before_it_and_downgrades(engine: str, postgres: Postgres | None) -> None:
    if engine == "sqlite":
        db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    elif postgres is None:
        pytest.skip("PostgreSQL is not installed")
    else:
        db = Database(postgres.create_database(f"mig_{uuid.uuid4().hex[:8]}"))
    db.migrate()
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
        conn.execute(
            text(
                "INSERT INTO accounts (id, name, kind, is_admin, created_at) VALUES (1, 'ann', 'user', false, '2026-01-01')"
            )
        )
        for repo_id, downloads in ((1, 3), (2, 9), (3, 0)):
            conn.execute(
                text(
                    "INSERT INTO repos (id, type, owner_id, namespace, name, full_id, storage_key, private, disabled,"
                    " created_at, last_modified, downloads, downloads_all_time, likes, trending_score, tags,"
                    " used_storage) VALUES (:id, 'model', 1, 'ann', :name, :full, :key, false, false, '2026-01-01',"
                    " '2026-01-01', :downloads, 0, 0, 0, '[]', 0)"
                ),
                {"id": repo_id, "name": f"tiny-bert-{repo_id}", "full": f"ann/tiny-bert-{repo_id}",
                 "key": uuid.uuid4().hex, "downloads": downloads},
            )  # fmt: skip
            # The document as the index kept it before 0019: keyed by the repository id.
            key = "repo_id" if engine == "postgres" else "rowid"
            conn.execute(
                text(f"INSERT INTO repo_search ({key}, name, body) VALUES (:id, :name, 'card text')"),
                {"id": repo_id, "name": " ".join(name_tokens(f"ann/tiny-bert-{repo_id}"))},
            )
        command.upgrade(cfg, "head")
    with db.read() as session:
        rows, _ = list_repos(session, Actor(), Query(repo_type="model", search=["bert"]))
        assert [r.id for r in rows] == [2, 1, 3]
        walk = index_for(engine if engine == "sqlite" else "postgresql").ranked(
            session, Stretch(["card"], "model", None, 10, 100)
        )
        assert walk is not None and [r[0] for r in walk.rows] == [2, 1, 3]
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
        if engine == "sqlite":  # keyed by repository id again
            assert list(conn.execute(text("SELECT rowid FROM repo_search ORDER BY rowid")).scalars()) == [1, 2, 3]
        else:
            assert conn.execute(text("SELECT to_regclass('repo_rank')")).scalar() is None
        command.upgrade(cfg, "head")
    db.dispose()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_0021_signs_the_tags_of_existing_repositories_and_downgrades(engine: str, postgres: Postgres | None) -> None:
    from haven.repos.tagsig import signature

    if engine == "sqlite":
        db = Database(f"sqlite:///{tempdir('haven-mig-') / 'haven.db'}")
    elif postgres is None:
        pytest.skip("PostgreSQL is not installed")
    else:
        db = Database(postgres.create_database(f"mig_{uuid.uuid4().hex[:8]}"))
    db.migrate()
    cfg = alembic_config()
    tags = {1: ["pytorch", "ko"], 2: ["ko"], 3: []}
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
        conn.execute(
            text(
                "INSERT INTO accounts (id, name, kind, is_admin, created_at) VALUES (1, 'ann', 'user', false, '2026-01-01')"
            )
        )
        for repo_id, names in tags.items():
            conn.execute(
                text(
                    "INSERT INTO repos (id, type, owner_id, namespace, name, full_id, storage_key, private, disabled,"
                    " created_at, last_modified, downloads, downloads_all_time, likes, trending_score, tags,"
                    " used_storage) VALUES (:id, 'model', 1, 'ann', :name, :full, :key, false, false, '2026-01-01',"
                    " '2026-01-01', 0, 0, :id, 0, '[]', 0)"
                ),
                {"id": repo_id, "name": f"m{repo_id}", "full": f"ann/m{repo_id}", "key": uuid.uuid4().hex},
            )
            for tag in names:
                conn.execute(
                    text("INSERT INTO repo_tags (repo_id, tag) VALUES (:id, :tag)"), {"id": repo_id, "tag": tag}
                )
        command.upgrade(cfg, "head")
        sigs = dict(conn.execute(text("SELECT id, tag_sig FROM repos")).all())
        assert sigs == {i: signature(t) for i, t in tags.items()}
    with db.read() as session:
        rows, _ = list_repos(session, Actor(), Query(repo_type="model", tags=["ko"], sort="likes"))
        assert [r.id for r in rows] == [2, 1]
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
        command.upgrade(cfg, "head")
    db.dispose()
