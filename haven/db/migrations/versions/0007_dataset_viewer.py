"""dataset viewer (issue 8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_viewer",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parquet_commit", sa.String(length=40), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_dataset_viewer_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_dataset_viewer")),
    )
    _queue_existing_datasets()


def _queue_existing_datasets() -> None:
    """Datasets that exist already get converted once, as after a commit."""
    jobs = sa.table(
        "jobs",
        sa.column("kind", sa.String),
        sa.column("key", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("status", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("max_attempts", sa.Integer),
        sa.column("run_after", sa.DateTime),
        sa.column("created_at", sa.DateTime),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    query = sa.text("SELECT id FROM repos WHERE type = 'dataset' AND head_sha IS NOT NULL")
    ids = [row[0] for row in op.get_bind().execute(query)]
    rows = [
        {"kind": "dataset.viewer", "key": f"repo:{i}", "payload": {"repo_id": i}, "status": "queued", "attempts": 0,
         "max_attempts": 3, "run_after": now, "created_at": now}
        for i in ids
    ]  # fmt: skip
    if rows:
        op.bulk_insert(jobs, rows)


def downgrade() -> None:
    op.drop_table("dataset_viewer")
