"""A portable dump of the database: every table of the models as gzipped JSON lines, read in one snapshot.

Why not the SQLite online backup API or pg_dump: a dump at the level of SQLAlchemy's tables restores into
either database, whichever it came from (so a hub can also move from SQLite to PostgreSQL through a
backup), needs no client binaries matching the server's major version, and lets restore create the schema
with Haven's own migrations instead of replaying another engine's DDL. The cost is that the search index
(virtual tables and tsvector columns outside the models) is not dumped: restore rebuilds it from git.

The dump is read inside one transaction: SQLite in WAL mode and PostgreSQL at REPEATABLE READ both give
that transaction a single snapshot, so the tables agree with one another while the hub keeps writing.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Connection, DateTime, Engine, Integer, LargeBinary, Table, func, null, select, text

from haven.db import Base, Database
from haven.db.migrate import alembic_config
from haven.recovery.progress import Progress

FORMAT = 1
BATCH = 1000


class DumpMismatch(Exception):
    """The dump cannot load here (another schema revision, or a database that is not empty)."""


def tables() -> list[Table]:
    import haven.db.models  # noqa: F401  (registers every model's table)

    return list(Base.metadata.sorted_tables)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one consistent state of the whole database."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def dump(conn: Connection, dest: Path, progress: Progress) -> dict[str, Any]:
    """Write every table under `dest`; returns what the manifest records (revision, row counts)."""
    dest.mkdir(parents=True, exist_ok=True)
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    counts: dict[str, int] = {}
    all_tables = tables()
    advance = progress.task("database", len(all_tables))
    for table in all_tables:
        counts[table.name] = _dump_table(conn, table, dest / f"{table.name}.jsonl.gz")
        advance(1)
    return {"format": FORMAT, "revision": revision, "dialect": conn.dialect.name, "rows": counts}


def _dump_table(conn: Connection, table: Table, path: Path) -> int:
    encoders = [_encoder(c.type) for c in table.columns]
    names = [c.name for c in table.columns]
    n = 0
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(names) + "\n")
        order = list(table.primary_key.columns) or list(table.columns)
        result = conn.execution_options(yield_per=BATCH).execute(select(table).order_by(*order))
        for row in result:
            f.write(json.dumps([enc(v) for enc, v in zip(encoders, row, strict=True)]) + "\n")
            n += 1
    return n


def load(db: Database, src: Path, info: dict[str, Any], progress: Progress) -> None:
    """Load a dump into `db`, which must be migrated to the dump's revision and hold no rows."""
    if info.get("format") != FORMAT:
        raise DumpMismatch(f"unknown dump format {info.get('format')!r}")
    if info["revision"] != head_revision():
        raise DumpMismatch(
            f"the backup's schema is revision {info['revision']}, this Haven's is {head_revision()}: restore "
            "with the Haven version that took the backup, then upgrade"
        )
    all_tables = tables()
    advance = progress.task("database", len(all_tables))
    with db.engine.begin() as conn:
        for table in all_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise DumpMismatch(f"the database is not empty (table {table.name} has rows)")
        for table in all_tables:
            path = src / f"{table.name}.jsonl.gz"
            if path.exists():
                _load_table(conn, table, path)
            advance(1)
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn, all_tables)


def _load_table(conn: Connection, table: Table, path: Path) -> None:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        names = json.loads(f.readline())
        columns = {c.name: c for c in table.columns}
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise DumpMismatch(f"table {table.name}: columns {unknown} do not exist here")
        decoders = [_decoder(columns[n].type) for n in names]
        batch: list[dict[str, Any]] = []
        for line in f:
            values = json.loads(line)
            batch.append({n: dec(v) for n, dec, v in zip(names, decoders, values, strict=True)})
            if len(batch) >= BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


def _reset_sequences(conn: Connection, all_tables: list[Table]) -> None:
    """Rows came with their ids: move each serial sequence past the largest, or the next insert collides."""
    for table in all_tables:
        for column in table.primary_key.columns:
            serial = column.autoincrement is True or (
                column.autoincrement == "auto" and len(table.primary_key.columns) == 1
            )
            if serial and isinstance(column.type, Integer):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"(SELECT COALESCE(MAX({column.name}), 0) + 1 FROM {table.name}), false)"
                    )
                )


def _encoder(type_: Any):  # type: ignore[no-untyped-def]
    if isinstance(type_, LargeBinary):
        return lambda v: None if v is None else base64.b64encode(v).decode()
    if isinstance(type_, DateTime):
        return lambda v: None if v is None else v.isoformat()
    return lambda v: v


def _decoder(type_: Any):  # type: ignore[no-untyped-def]
    if isinstance(type_, LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    if isinstance(type_, DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(type_, JSON):  # None was SQL NULL when read (JSON's null reads the same); keep it NULL
        return lambda v: null() if v is None else v
    return lambda v: v
