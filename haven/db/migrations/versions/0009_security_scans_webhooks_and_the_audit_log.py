"""security scans, webhooks and the audit log (issue 9)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _security_scans()


def _security_scans() -> None:
    op.create_table(
        "file_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pickle_scan", sa.JSON(), nullable=True),
        sa.Column("av_scan", sa.JSON(), nullable=True),
        sa.Column("secrets", sa.JSON(), nullable=True),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], name=op.f("fk_file_scans_repo_id_repos"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_scans")),
        sa.UniqueConstraint("repo_id", "key", name="uq_file_scans_repo_id_key"),
    )
    op.create_table(
        "repo_scans",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("files_with_issues", sa.JSON(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], name=op.f("fk_repo_scans_repo_id_repos"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_repo_scans")),
    )
    _queue_existing_repos()


def _queue_existing_repos() -> None:
    """Repositories that exist already are scanned once, as after a commit."""
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
    from datetime import UTC, datetime

    now = datetime.now(UTC).replace(tzinfo=None)
    ids = [row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM repos WHERE head_sha IS NOT NULL"))]
    rows = [
        {
            "kind": "repo.security_scan",
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
    op.drop_table("repo_scans")
    op.drop_table("file_scans")
