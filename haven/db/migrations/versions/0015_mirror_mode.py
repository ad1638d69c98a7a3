"""mirror mode (issue 11)

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirror_namespaces",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("upstream", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_mirror_namespaces_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_mirror_namespaces")),
    )
    op.create_table(
        "mirror_repos",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("upstream", sa.String(length=512), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_mirror_repos_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_mirror_repos")),
    )


def downgrade() -> None:
    op.drop_table("mirror_repos")
    op.drop_table("mirror_namespaces")
