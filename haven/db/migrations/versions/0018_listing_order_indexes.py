"""listing orders walked index-only (issue 5, fourth pass)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

COLUMNS = ("downloads", "likes", "last_modified", "created_at", "trending_score")


def upgrade() -> None:
    # (type, sort value) indexes made PostgreSQL visit the table for every entry walked, and re-sort each run
    # of equal values by id; (type, value, id, private) is the listing's whole order plus the anonymous
    # visibility check, so walks and the boundary lookups of haven.repos.listing read index entries only.
    for c in COLUMNS:
        op.create_index(f"ix_repos_type_{c}_id_private", "repos", ["type", c, "id", "private"], unique=False)
        op.drop_index(f"ix_repos_type_{c}", table_name="repos")
    # An author's ids without visiting the table (PostgreSQL's plain index gave row pointers: 20,000 page reads
    # to build the set of a 26,000-repository author's ids).
    op.create_index("ix_repos_namespace_id", "repos", ["namespace", "id"], unique=False)
    op.drop_index("ix_repos_namespace", table_name="repos")


def downgrade() -> None:
    op.create_index("ix_repos_namespace", "repos", ["namespace"], unique=False)
    op.drop_index("ix_repos_namespace_id", table_name="repos")
    for c in COLUMNS:
        op.create_index(f"ix_repos_type_{c}", "repos", ["type", c], unique=False)
        op.drop_index(f"ix_repos_type_{c}_id_private", table_name="repos")
