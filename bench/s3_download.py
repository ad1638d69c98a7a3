"""Downloads from Haven on S3: hf_hub_download through Haven's presigned redirect vs the same object
fetched straight from the object store with a presigned URL.

    /work/venv/bin/python bench/s3_download.py [--size-mib 64] [--files 3] [--runs 3]

moto's S3 server (a subprocess on loopback) holds the bucket; Haven (one worker, SQLite) is configured for
it. `--files` LFS files are uploaded with HfApi.upload_file. Each run, alternated: hf_hub_download of every
file into a fresh cache (the /resolve HEAD, the 302 to a presigned GET, the GET from the object store), and
the baseline: huggingface_hub's own http_get of a presigned URL of the same objects, made by boto3 in this
process, into a file. Printed: seconds per run and the ratio (Haven's redirect costs one HEAD and one
signature per file; the bytes never pass through Haven). Target: ratio <= 1.2x.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, fmt_runs, haven, make_file, median, verdict

from tests.support import free_port

TARGET = 1.2
MIB = 1 << 20


def start_moto(port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto's S3 server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from huggingface_hub import hf_hub_download
    from huggingface_hub.file_download import http_get

    from haven.storage.s3 import S3BlobStore, S3Config, make_client

    port = free_port()
    moto = start_moto(port)
    config = S3Config(
        bucket="bench",
        prefix="haven/",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id="bench",
        secret_access_key="bench",
        addressing_style="path",
    )
    client = make_client(config)
    client.create_bucket(Bucket="bench")
    env = {
        "HAVEN_BLOB_BACKEND": "s3",
        "HAVEN_S3_ENDPOINT_URL": config.endpoint_url or "",
        "HAVEN_S3_BUCKET": "bench",
        "HAVEN_S3_PREFIX": "haven/",
        "HAVEN_S3_ACCESS_KEY_ID": "bench",
        "HAVEN_S3_SECRET_ACCESS_KEY": "bench",
        "HAVEN_S3_ADDRESSING_STYLE": "path",
    }
    store = S3BlobStore(client, config, "blobs")
    size = args.size_mib * MIB
    try:
        with haven(env=env) as hv:
            repo = f"{hv.user}/s3bench"
            hv.api().create_repo(repo)
            oids = []
            for i in range(args.files):
                src = hv.root / f"w{i}.bin"
                make_file(src, size)
                hv.api().upload_file(path_or_fileobj=src, path_in_repo=src.name, repo_id=repo)
                oids.append(hashlib.sha256(src.read_bytes()).hexdigest())
                src.unlink()
            haven_s, direct_s = [], []
            for _ in range(args.runs):
                cache = Path(tempfile.mkdtemp(prefix="bench-s3-", dir=hv.root))
                t0 = time.perf_counter()
                for i in range(args.files):
                    hf_hub_download(repo, f"w{i}.bin", endpoint=hv.url, token=False, cache_dir=cache)
                haven_s.append(time.perf_counter() - t0)
                shutil.rmtree(cache)

                out = hv.root / "direct.bin"
                t0 = time.perf_counter()
                for oid in oids:
                    with open(out, "wb") as f:
                        http_get(store.download_url(oid), f, expected_size=size)
                direct_s.append(time.perf_counter() - t0)
                assert out.stat().st_size == size
                out.unlink()
            ratio = median(haven_s) / median(direct_s)
            print(f"\n== {args.files} files of {args.size_mib} MiB, {args.runs} alternated runs (s per run) ==")
            print(f"hf_hub_download via Haven (302 to S3)   {fmt_runs(haven_s, 's')}")
            print(f"http_get of a presigned URL from S3     {fmt_runs(direct_s, 's')}")
            print(f"ratio {ratio:.2f}x (target <= {TARGET}x): {verdict(ratio <= TARGET)}")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
