"""Blobs as objects in an S3-compatible bucket, under <prefix><kind>/sha256/ab/cd/<oid>.

Clients move the bytes themselves, through presigned URLs: downloads GET the content address, uploads PUT
(or upload parts) to a temporary key under <prefix>tmp/<kind>/, and nothing reaches the content address
before Haven has checked the temporary object's sha256 (`promote`). So an object at a content address is
always verified, and an upload that fails, is aborted or lies about its hash leaves only a temporary key
behind, which `clean_tmp` removes.

Every call to the object store that fails for a reason the client cannot fix (unreachable endpoint, 5xx,
missing bucket, refused credentials) raises StorageUnavailable, which the API answers with a 503.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import secrets
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from haven.storage.base import BlobMismatch, StorageUnavailable, StoredObject
from haven.storage.local import OID_RE

READ_CHUNK = 1 << 20
SPOOL = 8 << 20  # a writer keeps this much in memory before spilling to a temporary file
MIN_PART = 5 * 1024 * 1024  # S3 refuses parts smaller than 5 MiB (except the last)
MAX_PARTS = 10_000
LOOKUPS = 16  # concurrent HEADs when checking which of many objects are stored (an LFS batch)


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    addressing_style: str = "auto"  # "path" for most self-hosted servers (MinIO, moto, Ceph)
    presign_ttl: int = 3600


def make_client(config: S3Config) -> Any:
    """A boto3 client with short timeouts: a dead object store must turn into a 503 quickly, not a hang."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region or "us-east-1",
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=Config(
            s3={"addressing_style": config.addressing_style},
            signature_version="s3v4",
            connect_timeout=3,
            read_timeout=30,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


@contextlib.contextmanager
def _calls(what: str) -> Iterator[None]:
    """Turn the object store's own failures into StorageUnavailable (client-side mistakes pass through)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = e.response.get("Error", {}).get("Code", "")
        if status >= 500 or status in (401, 403) or code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId"):
            raise StorageUnavailable(f"Object storage failed to {what}: {code or status}") from None
        raise
    except BotoCoreError as e:
        raise StorageUnavailable(f"Object storage is unreachable ({what}): {e}") from None


def _code(e: Exception) -> str:
    response = getattr(e, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _not_found(e: Exception) -> bool:
    return _code(e) in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3BlobWriter:
    """Hashes bytes as they arrive into a spooled temporary file; `commit` uploads them only once verified,
    straight to the content address (a single PUT, or a managed multipart upload, is atomic in S3)."""

    def __init__(self, store: S3BlobStore) -> None:
        self._store = store
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 (closed in commit/abort)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._file.write(data)
        self.size += len(data)

    def commit(self, oid: str, size: int) -> None:
        try:
            actual = self._hash.hexdigest()
            if self.size != size or actual != oid:
                raise BlobMismatch(
                    f"uploaded object has size {self.size} and sha256 {actual}, expected size {size} and sha256 {oid}"
                )
            if self._store.size(oid) == size:
                self._store.renew(oid)
            else:
                self._file.seek(0)
                with _calls("store an object"):
                    self._store.client.upload_fileobj(self._file, self._store.bucket, self._store.key(oid))
        finally:
            self._file.close()

    def abort(self) -> None:
        self._file.close()


class S3Reader(io.RawIOBase):
    """A seekable read-only view of one object: reads stream from the current position with one ranged GET,
    which is reopened only after a seek."""

    def __init__(self, store: S3BlobStore, key: str, size: int) -> None:
        self._store, self._key, self._size = store, key, size
        self._pos = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        new = max(0, base + offset)
        if new != self._pos:
            self._drop()
            self._pos = new
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size or len(buffer) == 0:
            return 0
        if self._body is None:
            with _calls("read an object"):
                self._body = self._store.client.get_object(
                    Bucket=self._store.bucket, Key=self._key, Range=f"bytes={self._pos}-"
                )["Body"]
        with _calls("read an object"):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._drop()
        super().close()

    def _drop(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
            self._body = None


class S3BlobStore:
    """One kind of content-addressed object ("blobs" for LFS files, "xorbs" for Xet) in a bucket."""

    def __init__(self, client: Any, config: S3Config, kind: str) -> None:
        self.client = client
        self.bucket = config.bucket
        self.ttl = config.presign_ttl
        self._root = f"{config.prefix}{kind}/sha256/"
        self._tmp = f"{config.prefix}tmp/{kind}/"

    def key(self, oid: str) -> str:
        if not OID_RE.match(oid):
            raise ValueError(f"not a sha256 oid: {oid!r}")
        return f"{self._root}{oid[:2]}/{oid[2:4]}/{oid}"

    def tmp_key(self, token: str) -> str:
        if not token.isalnum():
            raise ValueError(f"not an upload token: {token!r}")
        return f"{self._tmp}{token}"

    # --- BlobStore ------------------------------------------------------------------------------

    def exists(self, oid: str) -> bool:
        return self.size(oid) is not None

    def size(self, oid: str) -> int | None:
        return self._head(self.key(oid))

    def sizes(self, oids: list[str]) -> dict[str, int]:
        if len(oids) <= 1:
            return {oid: size for oid in oids if (size := self.size(oid)) is not None}
        with ThreadPoolExecutor(min(LOOKUPS, len(oids))) as pool:
            found = zip(oids, pool.map(self.size, oids), strict=True)
            return {oid: size for oid, size in found if size is not None}

    def local_path(self, oid: str) -> Path | None:
        return None

    def open(self, oid: str) -> BinaryIO:
        size = self.size(oid)
        if size is None:
            raise FileNotFoundError(oid)
        return io.BufferedReader(S3Reader(self, self.key(oid), size), READ_CHUNK)  # type: ignore[return-value]

    def read_range(self, oid: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        with _calls("read an object"):
            try:
                body = self.client.get_object(
                    Bucket=self.bucket, Key=self.key(oid), Range=f"bytes={start}-{start + length - 1}"
                )["Body"]
            except Exception as e:
                if _not_found(e):
                    raise FileNotFoundError(oid) from None
                if _code(e) == "InvalidRange":  # starts at or past the end: nothing to read
                    return b""
                raise
            return body.read()

    def writer(self) -> S3BlobWriter:
        return S3BlobWriter(self)

    def put(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        if not self.exists(oid):
            self.publish_bytes(oid, data)
        return oid

    def publish_bytes(self, key: str, data: bytes) -> None:
        with _calls("store an object"):
            self.client.put_object(Bucket=self.bucket, Key=self.key(key), Body=data)

    def delete(self, oid: str) -> None:
        with _calls("delete an object"):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))

    def total_bytes(self) -> int:
        total = 0
        with _calls("list objects"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._root):
                total += sum(o["Size"] for o in page.get("Contents", ()))
        return total

    def list_objects(self) -> Iterator[StoredObject]:
        with _calls("list objects"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._root):
                for o in page.get("Contents", ()):
                    oid = o["Key"].rsplit("/", 1)[-1]
                    if OID_RE.match(oid):
                        yield StoredObject(oid, int(o["Size"]), o["LastModified"].timestamp())

    def stat(self, oid: str) -> StoredObject | None:
        with _calls("look up an object"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self.key(oid))
            except Exception as e:
                if _not_found(e):
                    return None
                raise
        return StoredObject(oid, int(head["ContentLength"]), head["LastModified"].timestamp())

    def renew(self, oid: str) -> None:
        """Restart an object's age (a copy onto itself): bytes uploaded again before their commit get a new
        grace period from garbage collection, as on local disk."""
        key = self.key(oid)
        with _calls("store an object"):
            self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key}, MetadataDirective="REPLACE"
            )

    def clean_tmp(self, older_than: float = 3600.0) -> None:
        """Remove temporary uploads (objects and unfinished multipart uploads) older than `older_than` seconds."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        with _calls("clean temporary uploads"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._tmp)
            for page in pages:
                for o in page.get("Contents", ()):
                    if o["LastModified"] < cutoff:
                        self.client.delete_object(Bucket=self.bucket, Key=o["Key"])
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self._tmp).get("Uploads", ())
            for u in uploads:
                if u["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"])

    # --- direct transfers (presigned URLs) -------------------------------------------------------

    def download_url(self, oid: str, filename: str | None = None, content_type: str | None = None) -> str:
        """A presigned GET of the object; Range requests on it work as on the object itself."""
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.key(oid)}
        if filename is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        if content_type is not None:
            params["ResponseContentType"] = content_type
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.ttl)

    def new_upload(self) -> str:
        """A fresh token naming a temporary key for one upload."""
        return secrets.token_hex(16)

    def upload_url(self, token: str) -> str:
        params = {"Bucket": self.bucket, "Key": self.tmp_key(token)}
        return self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=self.ttl)

    def start_multipart(self, token: str) -> str:
        """Begin a multipart upload to the token's temporary key; returns its upload id."""
        with _calls("start a multipart upload"):
            return self.client.create_multipart_upload(Bucket=self.bucket, Key=self.tmp_key(token))["UploadId"]

    def part_url(self, token: str, upload_id: str, part: int) -> str:
        params = {"Bucket": self.bucket, "Key": self.tmp_key(token), "UploadId": upload_id, "PartNumber": part}
        return self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=self.ttl)

    def complete_multipart(self, token: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Join the uploaded parts (number, ETag) into the temporary object. FileNotFoundError if the upload is
        unknown (never started, or already completed or aborted); ValueError if S3 refuses the part list."""
        from botocore.exceptions import ClientError

        listing = {"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]}
        with _calls("complete a multipart upload"):
            try:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=self.tmp_key(token), UploadId=upload_id, MultipartUpload=listing
                )
            except ClientError as e:
                if _not_found(e):
                    raise FileNotFoundError(upload_id) from None
                if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) < 500:
                    raise ValueError(e.response.get("Error", {}).get("Message") or str(e)) from None
                raise

    def abort_multipart(self, token: str, upload_id: str) -> None:
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.tmp_key(token), UploadId=upload_id)

    def promote(self, token: str, oid: str, size: int) -> None:
        """Verify the temporary object of `token` against `oid`/`size` and move it to its content address.

        BlobMismatch (and the temporary object is deleted) if it differs; FileNotFoundError if nothing was
        uploaded. The object's own SHA-256 checksum is trusted when the client sent one for the whole object;
        otherwise its bytes are streamed and hashed here."""
        tmp = self.tmp_key(token)
        try:
            with _calls("check an upload"):
                try:
                    head = self.client.head_object(Bucket=self.bucket, Key=tmp, ChecksumMode="ENABLED")
                except Exception as e:
                    if _not_found(e):
                        raise FileNotFoundError(oid) from None
                    raise
            actual_size = head["ContentLength"]
            actual = "(not computed)" if actual_size != size else self._sha256_of(tmp, head)
            if actual_size != size or actual != oid:
                raise BlobMismatch(
                    f"uploaded object has size {actual_size} and sha256 {actual}, expected size {size} and sha256 {oid}"
                )
            if self.size(oid) == size:
                self.renew(oid)
            else:
                with _calls("store an object"):
                    self.client.copy({"Bucket": self.bucket, "Key": tmp}, self.bucket, self.key(oid))
        finally:
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=tmp)

    # --- internals ------------------------------------------------------------------------------

    def _head(self, key: str) -> int | None:
        with _calls("look up an object"):
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            except Exception as e:
                if _not_found(e):
                    return None
                raise

    def _sha256_of(self, key: str, head: dict[str, Any]) -> str:
        checksum = head.get("ChecksumSHA256")
        if checksum and "-" not in checksum and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            return base64.b64decode(checksum).hex()
        digest = hashlib.sha256()
        with _calls("read an upload"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            for chunk in iter(lambda: body.read(READ_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()
