"""The BlobStore contract, the same for every backend (local disk, S3): content-addressed objects that
appear only whole and only once verified."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from haven.storage.base import BlobMismatch
from haven.storage.local import LocalBlobStore
from haven.storage.s3 import S3BlobStore

Store = LocalBlobStore | S3BlobStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_then_read_back(store: Store) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    oid = store.put(data)
    assert oid == sha(data)
    assert store.exists(oid) and store.size(oid) == len(data)
    with store.open(oid) as f:
        assert f.read() == data
    assert store.put(data) == oid  # storing it again is a no-op


def test_absent_objects(store: Store) -> None:
    oid = sha(b"never stored")
    assert not store.exists(oid) and store.size(oid) is None
    with pytest.raises(FileNotFoundError):
        store.open(oid)
    with pytest.raises(FileNotFoundError):
        store.read_range(oid, 0, 10)


def test_ranges_and_seeks(store: Store) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    oid = store.put(data)
    assert store.read_range(oid, 1000, 5000) == data[1000:6000]
    assert store.read_range(oid, len(data) - 10, 100) == data[-10:]  # short at the end
    with store.open(oid) as f:
        f.seek(1_500_000)
        assert f.read(100) == data[1_500_000:1_500_100]
        f.seek(10)
        assert f.read(5) == data[10:15]
        assert f.tell() == 15


def test_writer_publishes_only_verified_bytes(store: Store) -> None:
    data = os.urandom(100_000)
    w = store.writer()
    for i in range(0, len(data), 7_000):
        w.write(data[i : i + 7_000])
    assert w.size == len(data)
    assert not store.exists(sha(data))  # nothing visible before commit
    w.commit(sha(data), len(data))
    assert store.read_range(sha(data), 0, len(data)) == data


@pytest.mark.parametrize("lie", ["sha256", "size"])
def test_writer_refuses_a_mismatch_and_leaves_nothing(store: Store, lie: str) -> None:
    data = b"the real bytes" * 100
    claimed_oid = sha(b"other bytes") if lie == "sha256" else sha(data)
    claimed_size = len(data) + (1 if lie == "size" else 0)
    w = store.writer()
    w.write(data)
    with pytest.raises(BlobMismatch):
        w.commit(claimed_oid, claimed_size)
    assert not store.exists(claimed_oid) and not store.exists(sha(data))


def test_aborted_writer_leaves_nothing(store: Store) -> None:
    data = b"half an upload"
    w = store.writer()
    w.write(data)
    w.abort()
    assert not store.exists(sha(data))


def test_publish_delete_and_accounting(store: Store) -> None:
    data = os.urandom(4096)
    before = store.total_bytes()
    store.publish_bytes(sha(data), data)
    assert store.total_bytes() == before + 4096
    store.clean_tmp(older_than=0)  # temporary uploads only: published objects stay
    assert store.exists(sha(data))
    store.delete(sha(data))
    assert not store.exists(sha(data)) and store.total_bytes() == before


def test_empty_object(store: Store) -> None:
    oid = store.put(b"")
    assert store.size(oid) == 0 and store.read_range(oid, 0, 10) == b""
    with store.open(oid) as f:
        assert f.read() == b""


def test_only_local_disk_has_paths(store: Store) -> None:
    oid = store.put(b"where am I")
    path = store.local_path(oid)
    if isinstance(store, LocalBlobStore):
        assert path is not None and path.read_bytes() == b"where am I"
    else:
        assert path is None


def test_sizes_of_many(store: Store) -> None:
    stored = {store.put(bytes([i]) * (i + 1)): i + 1 for i in range(20)}
    absent = [sha(b"absent %d" % i) for i in range(5)]
    assert store.sizes([*stored, *absent]) == stored
    assert store.sizes([]) == {}


def test_listing_and_stat_for_maintenance(store: Store) -> None:
    data = os.urandom(2048)
    oid = store.put(data)
    listed = {o.oid: o for o in store.list_objects()}
    assert listed[oid].size == 2048
    assert store.stat(oid) == listed[oid]
    assert store.stat(sha(b"not there")) is None


def test_storing_known_bytes_again_renews_their_age(store: Store) -> None:
    """Garbage collection's grace period restarts when bytes are uploaded again before their commit."""
    data = os.urandom(1024)
    oid = store.put(data)
    first = store.stat(oid)
    assert first is not None
    time.sleep(1.1)  # S3 keeps LastModified in whole seconds
    writer = store.writer()
    writer.write(data)
    writer.commit(oid, len(data))
    second = store.stat(oid)
    assert second is not None and second.mtime > first.mtime
