"""teams and fine-grained tokens (issue 9)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work on this issue, so parallel branches keep one linear history


def downgrade() -> None:
    pass
