"""gated repositories: access requests (issue 9)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gated_access_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("rejection_reason", sa.String(length=1000), nullable=True),
        sa.Column("decided_by", sa.String(length=96), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_gated_access_requests_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["accounts.id"], name=op.f("fk_gated_access_requests_user_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gated_access_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_gated_access_requests_public_id")),
        sa.UniqueConstraint("repo_id", "user_id", name="uq_gated_access_requests_repo_id_user_id"),
    )
    op.create_index(
        "ix_gated_access_requests_repo_id_status", "gated_access_requests", ["repo_id", "status"], unique=False
    )
    op.create_index(op.f("ix_gated_access_requests_user_id"), "gated_access_requests", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gated_access_requests_user_id"), table_name="gated_access_requests")
    op.drop_index("ix_gated_access_requests_repo_id_status", table_name="gated_access_requests")
    op.drop_table("gated_access_requests")
