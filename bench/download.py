"""Large-file download: Haven's /resolve (302 to a signed blob URL) against nginx sendfile serving the same file.

    /work/venv/bin/python bench/download.py [--size-mib 1024] [--runs 3]

1. curl -L from Haven's /resolve URL vs curl from nginx (sendfile on), alternated: GB/s, the ratio
   (target >= 0.8x) and the server's CPU seconds per GB (utime + stime of its whole process tree).
2. hf_hub_download into a fresh cache dir vs the same client HTTP stack (huggingface_hub's http_get)
   writing the nginx-served file to disk: GB/s and ratio.
The file is uploaded through HfApi.upload_file (plain LFS, HF_HUB_DISABLE_XET=1); all reads are hot-cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, check_disk, fmt_runs, haven, make_file, median, nginx, settle, tree_cpu, verdict, warm

TARGET = 0.8


def curl(url: str, size: int, headers: tuple[str, ...] = ()) -> float:
    """Seconds curl took to fetch `url` (following redirects) to /dev/null."""
    args = ["curl", "-sS", "-L", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout.split()
    if int(out[0]) != size:
        raise RuntimeError(f"{url}: got {out[0]} bytes, expected {size}")
    return float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    size = args.size_mib << 20
    gb = size / 1e9
    check_disk(Path(tempfile.gettempdir()), int(3.2 * size) + GIB // 4)

    with haven() as hv:
        src = hv.root / "model.bin"
        make_file(src, size)
        api = hv.api()
        repo = f"{hv.user}/big"
        api.create_repo(repo)
        t0 = time.perf_counter()
        api.upload_file(path_or_fileobj=str(src), path_in_repo="model.bin", repo_id=repo)
        print(f"(setup) upload_file of {args.size_mib} MiB took {time.perf_counter() - t0:.2f}s")
        src.unlink()
        blobs = [p for p in (hv.server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()]
        assert len(blobs) == 1 and blobs[0].stat().st_size == size, blobs
        blob = blobs[0]
        warm(blob)
        resolve_url = f"{hv.url}/{repo}/resolve/main/model.bin"

        server = "sendfile on; tcp_nopush on; location = /model.bin { alias " + str(blob) + "; }"
        with nginx(server) as ng:
            nginx_url = f"{ng.url}/model.bin"
            curl(resolve_url, size)  # warm-up, both sides
            curl(nginx_url, size)

            # --- curl: Haven vs nginx, alternated -------------------------------------------------
            h_rate, n_rate, h_cpu, n_cpu = [], [], [], []
            for _ in range(args.runs):
                for name in ("haven", "nginx"):
                    pid, url = (hv.pid, resolve_url) if name == "haven" else (ng.pid, nginx_url)
                    c0 = tree_cpu(pid)
                    secs = curl(url, size)
                    cpu = tree_cpu(pid) - c0
                    (h_rate if name == "haven" else n_rate).append(gb / secs)
                    (h_cpu if name == "haven" else n_cpu).append(cpu / gb)
            ratios = [h / n for h, n in zip(h_rate, n_rate, strict=True)]
            ratio = median(h_rate) / median(n_rate)
            print(f"\n== curl -L, {args.size_mib} MiB LFS file, hot cache, {args.runs} alternated runs ==")
            print(f"haven /resolve     GB/s  {fmt_runs(h_rate)}   CPU s/GB {fmt_runs(h_cpu)}")
            print(f"nginx sendfile     GB/s  {fmt_runs(n_rate)}   CPU s/GB {fmt_runs(n_cpu)}")
            print(f"ratio haven/nginx  {ratio:.2f}x (per pair {', '.join(f'{r:.2f}' for r in ratios)})")
            print(f"target >= {TARGET}x: {verdict(ratio >= TARGET)}")

            # --- hf_hub_download vs the same client stack from nginx ------------------------------
            from huggingface_hub import hf_hub_download
            from huggingface_hub.file_download import http_get

            hf_rate, base_rate = [], []
            for _ in range(args.runs):
                cache = Path(tempfile.mkdtemp(prefix="bench-hfcache-", dir=hv.root))
                settle()
                t0 = time.perf_counter()
                path = hf_hub_download(repo, "model.bin", endpoint=hv.url, cache_dir=cache, token=False)
                hf_rate.append(gb / (time.perf_counter() - t0))
                assert os.path.getsize(path) == size
                shutil.rmtree(cache)

                out = hv.root / "http_get.bin"
                settle()
                t0 = time.perf_counter()
                with open(out, "wb") as f:
                    http_get(nginx_url, f, expected_size=size)
                base_rate.append(gb / (time.perf_counter() - t0))
                assert out.stat().st_size == size
                out.unlink()
            ratio2 = median(hf_rate) / median(base_rate)
            print(f"\n== hf_hub_download (fresh cache each run), {args.runs} alternated runs ==")
            print(f"hf_hub_download from haven        GB/s {fmt_runs(hf_rate)}")
            print(f"http_get from nginx to a file     GB/s {fmt_runs(base_rate)}")
            print(f"ratio {ratio2:.2f}x (the client's own HTTP stack bounds both)")


if __name__ == "__main__":
    main()
