"""An S3-compatible server (moto's) on a free loopback port, and the settings that point Haven at it.

The tests run it in their own process (`in_process`); a benchmark runs it as a process of its own
(`in_subprocess`), so that serving the bucket does not count as the benchmark's own work. Either way Haven
reaches it with the same settings (`haven_env`). Only tests and benchmarks import this: moto is a test
dependency, never Haven's.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from haven.storage.s3 import S3Config, make_client
from tests.support import free_port

REGION = "us-east-1"
KEY = "testing"  # moto takes any credentials
START_TIMEOUT = 60.0  # seconds for a moto_server process to answer (slow on a loaded machine)


@dataclass
class S3Server:
    """A running S3 server; `config(bucket)` is what a store is given, `haven_env(bucket)` what Haven is."""

    port: int
    stop: Callable[[], None]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self, bucket: str, prefix: str = "") -> S3Config:
        return S3Config(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=self.endpoint,
            region=REGION,
            access_key_id=KEY,
            secret_access_key=KEY,
            addressing_style="path",
        )

    def client(self) -> Any:
        return make_client(self.config("unused"))

    def new_bucket(self, name: str | None = None) -> str:
        name = name or f"haven-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def haven_env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """Haven's settings (environment variables) to keep its blobs and xorbs in `bucket` under `prefix`."""
        c = self.config(bucket, prefix)
        env = {
            "HAVEN_BLOB_BACKEND": "s3",
            "HAVEN_S3_ENDPOINT_URL": self.endpoint,
            "HAVEN_S3_BUCKET": c.bucket,
            "HAVEN_S3_REGION": c.region,
            "HAVEN_S3_ACCESS_KEY_ID": c.access_key_id,
            "HAVEN_S3_SECRET_ACCESS_KEY": c.secret_access_key,
            "HAVEN_S3_ADDRESSING_STYLE": c.addressing_style,
        }
        return env | ({"HAVEN_S3_PREFIX": prefix} if prefix else {})


def in_process() -> S3Server:
    """moto's server on threads of this process."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    return S3Server(port, moto.stop)


def in_subprocess() -> S3Server:
    """moto's server as a process of its own, once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def stop() -> None:
        proc.kill()
        proc.wait()

    server = S3Server(port, stop)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            server.client().list_buckets()
            return server
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                stop()
                raise
            time.sleep(0.2)
