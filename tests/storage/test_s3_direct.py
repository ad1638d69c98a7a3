"""The S3 store's direct transfers: presigned uploads land in a temporary key and reach their content
address only through `promote`, which verifies them; leftovers are swept by `clean_tmp`."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import httpx
import pytest

from haven.storage.base import BlobMismatch
from haven.storage.s3 import MIN_PART, S3BlobStore, make_client
from tests.storage.conftest import S3Server


@pytest.fixture
def s3(moto_server: S3Server, s3_bucket: str) -> S3BlobStore:
    config = moto_server.config(s3_bucket, prefix=f"{uuid.uuid4().hex[:8]}/")
    return S3BlobStore(make_client(config), config, "blobs")


def tmp_keys(s3: S3BlobStore) -> list[str]:
    listing = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=s3.tmp_key("x")[:-1])
    return [o["Key"] for o in listing.get("Contents", ())]


def test_a_presigned_put_is_promoted_once_verified(s3: S3BlobStore) -> None:
    data = os.urandom(70_000)
    oid = hashlib.sha256(data).hexdigest()
    token = s3.new_upload()
    assert httpx.put(s3.upload_url(token), content=data).status_code == 200
    assert not s3.exists(oid)  # uploaded, not yet an object
    s3.promote(token, oid, len(data))
    assert s3.read_range(oid, 0, len(data)) == data and tmp_keys(s3) == []


def test_a_client_checksum_is_used_when_sent(s3: S3BlobStore) -> None:
    data = b"checksummed by the client" * 1000
    digest = hashlib.sha256(data).digest()
    token = s3.new_upload()
    headers = {"x-amz-checksum-sha256": base64.b64encode(digest).decode()}
    assert httpx.put(s3.upload_url(token), content=data, headers=headers).status_code == 200
    s3.promote(token, digest.hex(), len(data))
    assert s3.size(digest.hex()) == len(data)


def test_promote_refuses_other_bytes_and_deletes_them(s3: S3BlobStore) -> None:
    token = s3.new_upload()
    httpx.put(s3.upload_url(token), content=b"not what was announced")
    claimed = hashlib.sha256(b"what was announced!!!!").hexdigest()
    with pytest.raises(BlobMismatch):
        s3.promote(token, claimed, len(b"not what was announced"))
    assert not s3.exists(claimed) and tmp_keys(s3) == []
    with pytest.raises(FileNotFoundError):  # nothing left to verify
        s3.promote(token, claimed, 22)


def test_multipart_parts_join_into_the_temporary_key(s3: S3BlobStore) -> None:
    data = os.urandom(MIN_PART + 1000)
    oid = hashlib.sha256(data).hexdigest()
    token = s3.new_upload()
    upload = s3.start_multipart(token)
    etags = []
    for n, chunk in ((1, data[:MIN_PART]), (2, data[MIN_PART:])):
        etags.append((n, httpx.put(s3.part_url(token, upload, n), content=chunk).headers["etag"]))
    s3.complete_multipart(token, upload, etags)
    s3.promote(token, oid, len(data))
    assert s3.size(oid) == len(data) and tmp_keys(s3) == []


def test_clean_tmp_sweeps_abandoned_uploads_only(s3: S3BlobStore) -> None:
    kept = s3.put(b"a published object")
    httpx.put(s3.upload_url(s3.new_upload()), content=b"abandoned")
    token = s3.new_upload()
    s3.start_multipart(token)
    s3.clean_tmp(older_than=3600)  # too recent: kept
    assert len(tmp_keys(s3)) == 1
    s3.clean_tmp(older_than=-1)
    assert tmp_keys(s3) == [] and s3.exists(kept)
    uploads = s3.client.list_multipart_uploads(Bucket=s3.bucket, Prefix=s3.tmp_key(token)).get("Uploads", [])
    assert uploads == []
