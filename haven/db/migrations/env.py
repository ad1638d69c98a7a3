"""Alembic environment: runs on the connection Haven hands it (or a URL for `alembic` CLI use)."""

from alembic import context
from sqlalchemy import create_engine

import haven.db.models  # noqa: F401  (registers every table)
from haven.db.base import Base

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        run(conn)
