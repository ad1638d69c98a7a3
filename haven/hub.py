"""The Hub object: settings plus the storage handles every service needs. Built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from haven.auth.service import Authenticator
from haven.config import Settings
from haven.db import Database
from haven.repos.counters import DownloadCounter
from haven.storage.backends import BlobStores, open_stores


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
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.repos_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.sqlalchemy_url)
        if migrate:
            db.migrate()
        blobs, xorbs = open_stores(settings)
        return cls(settings=settings, db=db, blobs=blobs, xorbs=xorbs, auth=Authenticator(db))

    def repo_path(self, storage_key: str) -> Path:
        return self.settings.repos_dir / storage_key[:2] / f"{storage_key}.git"

    def close(self) -> None:
        self.downloads.flush()
        self.db.dispose()
