"""listing latency at a million repositories (issue 5)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-02
"""

from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A tag's repository ids straight from the index (no row lookups): the listing counts a filter's tags
    # and walks the sort order checking membership in the rarest one's ids (haven.repos.listing).
    op.create_index("ix_repo_tags_tag_repo_id", "repo_tags", ["tag", "repo_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_repo_tags_tag_repo_id", table_name="repo_tags")
