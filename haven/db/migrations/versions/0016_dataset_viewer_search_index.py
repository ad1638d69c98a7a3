"""dataset viewer search index and SQL console (issue 8)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work on this issue, so parallel branches keep one linear history


def downgrade() -> None:
    pass
