"""Fixtures for the blob store tests: an S3-compatible server (moto's, on a free loopback port), the two
stores the contract runs on, and a real Haven server whose blobs and xorbs live in that server's bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from haven.storage.local import LocalBlobStore
from haven.storage.s3 import S3BlobStore, S3Config, make_client
from tests.conftest import Hub, _seed
from tests.git.conftest import git  # noqa: F401 (git and git-lfs in a HOME of their own)
from tests.support import Server, free_port, tempdir

S3_PART = 5 * 1024 * 1024  # S3's smallest multipart part: Haven's chunk size for these tests


@dataclass
class S3Server:
    """moto's S3 server in this process; `config(bucket)` is what Haven or a store is given to reach it."""

    port: int
    moto: ThreadedMotoServer

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self, bucket: str, prefix: str = "") -> S3Config:
        return S3Config(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=self.endpoint,
            region="us-east-1",
            access_key_id="testing",
            secret_access_key="testing",
            addressing_style="path",
        )

    def client(self) -> Any:
        return make_client(self.config("unused"))

    def new_bucket(self) -> str:
        name = f"haven-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def haven_env(self, bucket: str) -> dict[str, str]:
        return {
            "HAVEN_BLOB_BACKEND": "s3",
            "HAVEN_S3_ENDPOINT_URL": self.endpoint,
            "HAVEN_S3_BUCKET": bucket,
            "HAVEN_S3_REGION": "us-east-1",
            "HAVEN_S3_ACCESS_KEY_ID": "testing",
            "HAVEN_S3_SECRET_ACCESS_KEY": "testing",
            "HAVEN_S3_ADDRESSING_STYLE": "path",
            "HAVEN_S3_PREFIX": "haven/",
            "HAVEN_MULTIPART_CHUNK_SIZE": str(S3_PART),
        }


def start_s3() -> S3Server:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    return S3Server(port, moto)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    server.moto.stop()


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
    root = tempdir("haven-s3-")
    server = Server(root / "data", extra_env=s3.haven_env(bucket))
    server.data_dir.mkdir(parents=True)
    tokens, read_tokens = _seed(server)
    server.start()
    return Hub(server, "sqlite", tokens, read_tokens)


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
