"""What the CAS knows about xorbs and files; the bytes of xorbs live in the blob store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow


class XetXorb(Base):
    """A stored, verified xorb. `layout` packs per chunk: byte offset (u32), unpacked length (u32), hash (32 B)."""

    __tablename__ = "xet_xorbs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    unpacked_size: Mapped[int] = mapped_column(BigInteger)
    num_chunks: Mapped[int] = mapped_column(Integer)
    layout: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetFile(Base):
    """A file known to the CAS. `terms` packs per term: xorb hash (32 B), chunk start, end, unpacked length (u32)."""

    __tablename__ = "xet_files"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    terms: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetDedupChunk(Base):
    """Chunks eligible for global dedup (a file's first chunk, or hash % 1024 == 0) and the xorb holding them."""

    __tablename__ = "xet_dedup_chunks"

    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(String(64))


class XetFileXorb(Base):
    """Which xorbs a file's terms read. A dedup hit on one xorb answers with its neighbours through this: the
    other xorbs of the files that read it, which is where the next version of such a file finds its chunks."""

    __tablename__ = "xet_file_xorbs"

    xorb_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_hash: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
