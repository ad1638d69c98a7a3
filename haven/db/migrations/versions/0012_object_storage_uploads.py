"""object storage uploads (issue 10)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work on this issue, so parallel branches keep one linear history


def downgrade() -> None:
    pass
