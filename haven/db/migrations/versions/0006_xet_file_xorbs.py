"""xet file -> xorb index, for dedup answers that carry a file's other xorbs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import struct

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TERM = struct.Struct("<32sIII")  # as haven.cas.layout packs a file's terms


def _hash_hex(h: bytes) -> str:
    """The Xet hash string (each 8-byte group as a little-endian u64), as haven.xet.hashes writes it."""
    return "".join(h[i : i + 8][::-1].hex() for i in range(0, 32, 8))


def upgrade() -> None:
    op.create_table(
        "xet_file_xorbs",
        sa.Column("xorb_hash", sa.String(length=64), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("xorb_hash", "file_hash", name=op.f("pk_xet_file_xorbs")),
    )
    op.create_index(op.f("ix_xet_file_xorbs_file_hash"), "xet_file_xorbs", ["file_hash"], unique=False)
    table = sa.table("xet_file_xorbs", sa.column("xorb_hash"), sa.column("file_hash"))
    files = op.get_bind().execute(sa.text("SELECT hash, terms FROM xet_files")).all()
    rows = [
        {"xorb_hash": xorb, "file_hash": file_hash}
        for file_hash, terms in files
        for xorb in sorted({_hash_hex(t[0]) for t in _TERM.iter_unpack(bytes(terms))})
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("xet_file_xorbs")
