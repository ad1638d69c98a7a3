"""One typed settings object: the only place that reads HAVEN_* environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1_000_000


class Settings(BaseSettings):
    """Hub settings; every field is also `HAVEN_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", extra="ignore")

    data_dir: Path = Field(Path("./haven-data"), description="Where the database, repositories and blobs live.")
    host: str = Field("127.0.0.1", description="Address `haven serve` binds to.")
    port: int = Field(8000, description="Port `haven serve` listens on.")
    workers: int = Field(1, description="Server worker processes.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; defaults to SQLite at <data_dir>/haven.db.")
    public_url: str | None = Field(
        None, description="External base URL used in links the API returns; defaults to the request's own."
    )
    secret_key: str | None = Field(
        None, description="Signs upload/download URLs; generated once into <data_dir>/secret.key if unset."
    )
    lfs_threshold: int = Field(10 * MB, description="Files at least this large are stored as Git LFS objects.")
    max_request_body: int = Field(
        512 * MB, description="Largest commit/API request body accepted (LFS uploads are bounded separately)."
    )
    max_lfs_object: int = Field(200_000 * MB, description="Largest single LFS object accepted in bytes.")
    multipart_chunk_size: int = Field(
        512 * MB, description="LFS objects larger than this are uploaded in parts of this size."
    )
    blob_port: int = Field(
        -1,
        description="Port of the zero-copy (sendfile) server LFS downloads redirect to: -1 picks a free port "
        "at start, 0 serves the bytes from the main server instead.",
    )
    blob_url: str | None = Field(
        None,
        description="External base URL of the blob server, when a proxy fronts it (default: same host, blob_port).",
    )
    signed_url_ttl: int = Field(3600, description="Lifetime in seconds of signed upload and download URLs.")
    facet_ttl: float = Field(
        30.0,
        gt=0,
        description="Seconds the listing's tag counts (facets, tags-by-type) are fresh; past it they are still "
        "answered while one thread counts again.",
    )
    allow_anonymous_read: bool = Field(True, description="Whether public repositories are readable anonymously.")
    allow_signup: bool = Field(True, description="Whether visitors may create accounts on the web sign-up page.")
    session_days: int = Field(30, description="Lifetime in days of a web login session.")
    gc_freeze: bool = Field(
        True,
        description="Move the objects alive once a server worker has started out of the cyclic garbage "
        "collector's reach (gc.freeze), so that its full passes do not stall requests for long.",
    )
    job_workers: int = Field(
        1,
        description="Background job threads per lane per server process (metadata, scans, webhooks; dataset "
        "conversions have a lane of their own); 0 runs none in this process (leave them to `haven worker`).",
    )
    viewer_max_bytes: int = Field(
        5_000 * MB,
        description="Dataset viewer: in-memory bytes of one split converted to Parquet; beyond it the split is "
        "converted partially (its first rows) and the API says partial.",
    )
    viewer_job_timeout: int = Field(3600, description="Dataset viewer: seconds one conversion job may run.")
    viewer_job_memory_mb: int = Field(4096, description="Dataset viewer: address-space limit (MB) of a conversion.")
    viewer_query_timeout: float = Field(10.0, description="Dataset viewer: seconds one DuckDB query may run.")
    viewer_query_memory_mb: int = Field(512, description="Dataset viewer: DuckDB memory limit (MB) per query.")
    inference_workers: int = Field(1, description="Inference worker processes (started on the first inference call).")
    inference_memory_mb: int = Field(
        4000, description="Memory budget (MB) of loaded models per inference worker; least recently used ones unload."
    )
    inference_threads: int = Field(0, description="Torch threads per inference worker (0: one per CPU core).")
    inference_queue_size: int = Field(
        256, description="Inference requests waiting or running at once; more are refused with 503 and Retry-After."
    )
    inference_max_batch: int = Field(
        32, description="Largest batch of concurrent requests to one model run in one forward pass (1: no batching)."
    )
    inference_batch_ms: float = Field(
        0.0,
        description="How long (ms) a request to an idle model waits for others to batch with (requests that "
        "arrive while a batch runs always gather for the next one).",
    )
    inference_timeout: float = Field(120.0, description="Seconds an inference request may wait and run before a 504.")
    inference_max_input_bytes: int = Field(1 * MB, description="Largest inference request body.")
    inference_max_input_tokens: int = Field(
        4096, description="Most tokens in one input text (beyond the model's own limit inputs are truncated)."
    )
    inference_max_new_tokens: int = Field(512, description="Most tokens one generation request may produce.")
    inference_rate_limit: int = Field(
        0,
        description="Inference requests per window (inference_rate_window) per token (per address when "
        "anonymous); 0: unlimited.",
    )
    inference_allow_pickle: bool = Field(
        False, description="Whether models whose weights are only pickles (.bin, .pt) may be loaded (runs their code)."
    )
    webhooks_allow_private: bool = Field(
        False,
        description="Whether webhooks may target loopback, private and link-local addresses (cloud metadata "
        "addresses stay refused).",
    )
    webhooks_max_attempts: int = Field(5, description="Attempts to deliver one webhook payload before giving up.")
    webhooks_retry_seconds: float = Field(
        10.0, description="Delay before the first webhook retry; each further retry waits twice as long."
    )
    webhooks_timeout: float = Field(10.0, description="Seconds a webhook receiver has to answer.")

    # --- object storage (S3-compatible blob store) ---
    blob_backend: Literal["local", "s3"] = Field(
        "local", description="Where LFS blobs and Xet xorbs live: `local` disk under data_dir, or `s3`."
    )
    s3_endpoint_url: str | None = Field(None, description="S3: endpoint URL (MinIO, Ceph...); unset for AWS.")
    s3_bucket: str | None = Field(None, description="S3: the bucket (must exist); required with blob_backend=s3.")
    s3_region: str | None = Field(None, description="S3: region (default us-east-1).")
    s3_prefix: str = Field("", description="S3: key prefix under which Haven keeps its objects, e.g. `haven/`.")
    s3_access_key_id: str | None = Field(None, description="S3: access key id (default: boto3's credential chain).")
    s3_secret_access_key: str | None = Field(None, description="S3: secret access key.")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", description="S3: `path` for most self-hosted servers, `virtual` for bucket host names."
    )
    s3_presign_ttl: int = Field(3600, description="S3: lifetime in seconds of presigned download and upload URLs.")

    # Rate limits (haven/api/ratelimit.py): requests per window per token, or per address when anonymous
    rate_limit_api: int = Field(0, description="Requests to /api/* per window per caller; 0: no limit.")
    rate_limit_api_window: int = Field(300, gt=0, description="Seconds of the `api` rate-limit window.")
    rate_limit_resolve: int = Field(
        0, description="File downloads (/resolve, LFS, Xet, git) per window per caller; 0: no limit."
    )
    rate_limit_resolve_window: int = Field(300, gt=0, description="Seconds of the `resolve` rate-limit window.")
    rate_limit_pages: int = Field(0, description="Web pages per window per caller; 0: no limit.")
    rate_limit_pages_window: int = Field(300, gt=0, description="Seconds of the `pages` rate-limit window.")
    inference_rate_window: int = Field(
        60, gt=0, description="Seconds of the `inference` rate-limit window (HAVEN_INFERENCE_RATE_LIMIT)."
    )

    # --- mirror mode (issue 11): a pull-through cache of upstream hubs (haven/mirror/) ---
    mirror_upstream: str | None = Field(
        None, description="Base URL of the hub mirrored on demand (any Hugging Face compatible endpoint); unset: off."
    )
    mirror_upstream_token: str | None = Field(None, description="Token sent to mirror_upstream (private/gated repos).")
    mirror_config: Path | None = Field(
        None,
        description="YAML/JSON file listing several upstreams with their own rules "
        "(`upstreams: [{url, token, allow, deny, repo_types, licenses}]`); replaces mirror_upstream.",
    )
    mirror_allow: list[str] = Field(
        default_factory=lambda: ["*"], description="Repository id globs (e.g. `openai/*`) that may be mirrored."
    )
    mirror_deny: list[str] = Field(default_factory=list, description="Repository id globs never mirrored.")
    mirror_repo_types: list[str] = Field(
        default_factory=lambda: ["model", "dataset"], description="Repository types that may be mirrored."
    )
    mirror_licenses: list[str] = Field(
        default_factory=list, description="Licences (card `license`) allowed to be mirrored; empty: any."
    )
    mirror_require_login: bool = Field(
        False,
        description="Whether mirrored repositories (and looking repositories up upstream) are for signed-in callers only.",
    )
    mirror_ttl: float = Field(60.0, description="Seconds a mirrored repository's refs are trusted before re-checking.")
    mirror_timeout: float = Field(5.0, description="Seconds to wait for the upstream before answering from cache.")

    # --- many processes and operations (issue 10) ---
    job_kinds: str | None = Field(
        None,
        description="Job kinds (comma-separated) the server's own job threads take; default all. `haven worker "
        "--kinds` runs the others in a process of their own.",
    )
    log_format: str = Field("text", description="Log lines as `text` or `json` (one JSON object per line).")
    metrics_token: str | None = Field(
        None, description="When set, /metrics asks for it as a bearer token; unset, /metrics is open to all."
    )
    shutdown_timeout: int = Field(
        120, description="Seconds a stopping server (SIGTERM) gives in-flight requests, such as uploads, to finish."
    )

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'haven.db').resolve()}"

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    def signing_key(self) -> bytes:
        """The secret for signed URLs, created on first use so restarts keep links valid."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"secret.key.{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # first writer wins, even across processes
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip().encode()
