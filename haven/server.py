"""Runs the ASGI app under granian (a Rust HTTP server; file bodies go out in 1 MiB reads, see api/responses.FileBody)."""

from __future__ import annotations

import logging
import os

from haven.config import Settings


def app_factory():  # type: ignore[no-untyped-def]
    """Builds the app inside each worker process from the environment `run` prepared."""
    from haven.api.files import route_resolve_first
    from haven.app import create_app

    app = create_app(Settings())
    route_resolve_first(app)
    return app


def run(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    from haven.hub import Hub

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Migrate and prepare once, before workers start; workers then only open.
    hub = Hub.open(settings)
    hub.blobs.clean_tmp()
    settings.signing_key()
    hub.close()
    os.environ["HAVEN_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.database_url:
        os.environ["HAVEN_DATABASE_URL"] = settings.database_url
    logging.getLogger("haven").info(
        "Haven listening on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir
    )
    Granian(
        "haven.server:app_factory",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
    ).serve()
