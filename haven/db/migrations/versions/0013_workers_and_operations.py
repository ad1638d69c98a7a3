"""many workers and operations (issue 10)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work on this issue, so parallel branches keep one linear history


def downgrade() -> None:
    pass
