"""file metadata and the job queue (issue 5)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_run_after", "jobs", ["status", "run_after"], unique=False)
    op.create_index("ix_jobs_kind_key", "jobs", ["kind", "key"], unique=False)
    op.create_table(
        "repo_metadata",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("safetensors", sa.JSON(), nullable=True),
        sa.Column("gguf", sa.JSON(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("transformers_info", sa.JSON(), nullable=True),
        sa.Column("data_files", sa.JSON(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_metadata_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_repo_metadata")),
    )
    # Repositories that exist already get their metadata computed once, as after a commit.
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
    ids = [row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM repos WHERE head_sha IS NOT NULL"))]
    rows = [
        {
            "kind": "repo.metadata",
            "key": f"repo:{i}",
            "payload": {"repo_id": i},
            "status": "queued",
            "attempts": 0,
            "max_attempts": 3,
            "run_after": now,
            "created_at": now,
        }
        for i in ids
    ]
    if rows:
        op.bulk_insert(jobs, rows)


def downgrade() -> None:
    op.drop_table("repo_metadata")
    op.drop_index("ix_jobs_kind_key", table_name="jobs")
    op.drop_index("ix_jobs_status_run_after", table_name="jobs")
    op.drop_table("jobs")
