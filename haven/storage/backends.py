"""Choosing the blob store the settings name: the two stores (LFS blobs, Xet xorbs) every process opens."""

from __future__ import annotations

from haven.config import Settings
from haven.storage.local import LocalBlobStore
from haven.storage.s3 import S3BlobStore, S3Config, make_client

BlobStores = LocalBlobStore | S3BlobStore


def s3_config(settings: Settings) -> S3Config:
    if not settings.s3_bucket:
        raise ValueError("HAVEN_S3_BUCKET is required when HAVEN_BLOB_BACKEND=s3")
    return S3Config(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        addressing_style=settings.s3_addressing_style,
        presign_ttl=settings.s3_presign_ttl,
    )


def open_stores(settings: Settings, *, create: bool = False) -> tuple[BlobStores, BlobStores]:
    """(blobs, xorbs) on local disk under data_dir (their directories made when `create`: setup only), or in
    the configured bucket (one client for both)."""
    if settings.blob_backend == "s3":
        config = s3_config(settings)
        client = make_client(config)
        return S3BlobStore(client, config, "blobs"), S3BlobStore(client, config, "xorbs")
    return LocalBlobStore(settings.blobs_dir, create=create), LocalBlobStore(settings.data_dir / "xorbs", create=create)
