"""teams and fine-grained tokens (issue 9)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "contributor" and "fineGrained" do not fit the old 8 characters (PostgreSQL enforces the length).
    with op.batch_alter_table("memberships") as batch:
        batch.alter_column("role", existing_type=sa.String(length=8), type_=sa.String(length=16))
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("role", existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_table(
        "resource_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=96), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["accounts.id"], name=op.f("fk_resource_groups_org_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_groups")),
        sa.UniqueConstraint("org_id", "name", name="uq_resource_groups_org_id_name"),
    )
    op.create_table(
        "resource_group_repos",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["resource_groups.id"],
            name=op.f("fk_resource_group_repos_group_id_resource_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_resource_group_repos_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "repo_id", name=op.f("pk_resource_group_repos")),
    )
    op.create_index(op.f("ix_resource_group_repos_repo_id"), "resource_group_repos", ["repo_id"], unique=False)
    op.create_table(
        "resource_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["resource_groups.id"],
            name=op.f("fk_resource_group_members_group_id_resource_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["accounts.id"], name=op.f("fk_resource_group_members_user_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_resource_group_members")),
    )
    op.create_index(
        op.f("ix_resource_group_members_user_id"), "resource_group_members", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_resource_group_members_user_id"), table_name="resource_group_members")
    op.drop_table("resource_group_members")
    op.drop_index(op.f("ix_resource_group_repos_repo_id"), table_name="resource_group_repos")
    op.drop_table("resource_group_repos")
    op.drop_table("resource_groups")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
        batch.alter_column("role", existing_type=sa.String(length=16), type_=sa.String(length=8))
    with op.batch_alter_table("memberships") as batch:
        batch.alter_column("role", existing_type=sa.String(length=16), type_=sa.String(length=8))
