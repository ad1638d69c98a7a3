"""Fixtures for the blob store tests: an S3-compatible server (moto's, on a free loopback port), the two
stores the contract runs on, and a real Haven server whose blobs and xorbs live in that server's bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from haven.storage.local import LocalBlobStore
from haven.storage.s3 import S3BlobStore, make_client
from tests.conftest import Hub, start_hub
from tests.git.conftest import git  # noqa: F401 (git and git-lfs in a HOME of their own)
from tests.s3_server import S3Server, in_process

S3_PART = 5 * 1024 * 1024  # S3's smallest multipart part: Haven's chunk size for these tests


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    server = in_process()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_bucket(moto_server: S3Server) -> str:
    return moto_server.new_bucket()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LocalBlobStore | S3BlobStore:
    """A blob store, once on local disk and once in the S3 server's bucket (under a prefix of its own)."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs", create=True)
    s3: S3Server = request.getfixturevalue("moto_server")
    config = s3.config(request.getfixturevalue("s3_bucket"), prefix=f"{uuid.uuid4().hex[:8]}/")
    return S3BlobStore(make_client(config), config, "blobs")


def start_s3_hub(s3: S3Server, bucket: str) -> Hub:
    env = {**s3.haven_env(bucket, prefix="haven/"), "HAVEN_MULTIPART_CHUNK_SIZE": str(S3_PART)}
    return start_hub("haven-s3-", env=env)


@pytest.fixture(scope="session")
def s3_hub(moto_server: S3Server, s3_bucket: str) -> Iterator[Hub]:
    """A running Haven (SQLite) whose LFS blobs and Xet xorbs live in the S3 server's bucket."""
    hub = start_s3_hub(moto_server, s3_bucket)
    yield hub
    hub.server.stop()


@pytest.fixture
def xet_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client subprocesses use hf_xet (the in-process client keeps HF_HUB_DISABLE_XET=1)."""
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
