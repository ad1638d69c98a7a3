"""search documents in rank order (issue 5, fifth pass)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from alembic import op

from haven.search import index_for

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite: the full-text rowids become rank keys (haven.search.rank), so a search sorted by downloads reads
    # the first entries of its posting lists and stops; triggers keep the keys in step with the downloads.
    bind = op.get_bind()
    index_for(bind.dialect.name).rank_schema(bind)


def downgrade() -> None:
    bind = op.get_bind()
    index_for(bind.dialect.name).unrank_schema(bind)
