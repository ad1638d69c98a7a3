"""search, ranking signals and facets (issue 5)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import time

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from haven.search import index_for
from haven.search.text import name_tokens

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not batch mode: recreating `repos` on SQLite would drop the table its children's
    # ON DELETE CASCADE keys point at (and the search trigger with it).
    op.add_column("repos", sa.Column("trending_score", sa.Float(), nullable=False, server_default="0"))
    op.create_index("ix_repos_type_trending_score", "repos", ["type", "trending_score"], unique=False)
    op.create_index("ix_repos_namespace", "repos", ["namespace"], unique=False)
    op.create_index(
        "ix_repos_private_type_owner",
        "repos",
        ["type", "owner_id"],
        unique=False,
        sqlite_where=sa.text("private = 1"),
        postgresql_where=sa.text("private"),
    )
    op.create_table(
        "repo_activity",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_activity_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", "day", name=op.f("pk_repo_activity")),
    )
    bind = op.get_bind()
    index_for(bind.dialect.name).create_schema(bind)
    # Downloads counted before per-day counting began are attributed to today, so the 30-day count and the
    # trending score start from them; names are indexed now, card text at each repository's next commit.
    today = int(time.time() // 86400)
    bind.execute(
        sa.text(
            "INSERT INTO repo_activity (repo_id, day, downloads, likes) "
            "SELECT id, :today, downloads, 0 FROM repos WHERE downloads > 0"
        ),
        {"today": today},
    )
    index = index_for(bind.dialect.name)
    session = Session(bind=bind)
    for repo_id, full_id in bind.execute(sa.text("SELECT id, full_id FROM repos")).all():
        index.put(session, repo_id, name_tokens(full_id), [])
    session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    index_for(bind.dialect.name).drop_schema(bind)
    op.drop_table("repo_activity")
    op.drop_index("ix_repos_private_type_owner", table_name="repos")
    op.drop_index("ix_repos_namespace", table_name="repos")
    op.drop_index("ix_repos_type_trending_score", table_name="repos")
    op.drop_column("repos", "trending_score")
