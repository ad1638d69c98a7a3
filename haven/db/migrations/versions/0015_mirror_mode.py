"""mirror mode (issue 11)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work on this issue, so parallel branches keep one linear history


def downgrade() -> None:
    pass
