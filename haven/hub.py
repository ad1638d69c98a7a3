"""The Hub object: settings plus the storage handles every service needs. Built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from haven.auth.service import Authenticator
from haven.config import Settings
from haven.db import Database
from haven.repos.counters import DownloadCounter
from haven.storage.backends import BlobStores, open_stores


class DataDirectoryMissing(RuntimeError):
    """A process that only opens the data directory found none."""


@dataclass
class Hub:
    settings: Settings
    db: Database
    blobs: BlobStores
    xorbs: BlobStores
    auth: Authenticator
    downloads: DownloadCounter = field(init=False)

    def __post_init__(self) -> None:
        self.downloads = DownloadCounter(self.db)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Hub:
        """The setup step (`haven serve`'s preparation, the CLI's commands): create the data directories and
        migrate the database, then open them. Processes started beside it use `attach`."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.repos_dir.mkdir(parents=True, exist_ok=True)
        return cls._connect(settings, migrate=migrate, create=True)

    @classmethod
    def attach(cls, settings: Settings, *, migrate: bool = False) -> Hub:
        """Open a data directory that setup prepared, creating nothing. Server worker processes and job
        workers start at any time (a restart, a late start on a loaded machine): one that recreated an
        unmounted `repos/` would hide the outage from readiness (haven.ops.health) and write where the
        volume belongs. A missing data directory is an error; missing parts of it leave the process alive,
        and not ready."""
        if not settings.data_dir.is_dir():
            raise DataDirectoryMissing(
                f"The data directory {settings.data_dir} does not exist: `haven serve` creates it"
            )
        return cls._connect(settings, migrate=migrate, create=False)

    @classmethod
    def _connect(cls, settings: Settings, *, migrate: bool, create: bool) -> Hub:
        db = Database(settings.sqlalchemy_url)
        if migrate:
            db.migrate()
        blobs, xorbs = open_stores(settings, create=create)
        return cls(settings=settings, db=db, blobs=blobs, xorbs=xorbs, auth=Authenticator(db))

    def repo_path(self, storage_key: str) -> Path:
        return self.settings.repos_dir / storage_key[:2] / f"{storage_key}.git"

    def close(self) -> None:
        self.downloads.flush()
        self.db.dispose()
