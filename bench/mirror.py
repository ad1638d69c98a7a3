"""Mirror mode: downloads of an upstream file through a mirror Haven.

    /work/venv/bin/python bench/mirror.py [--size-mib 1024] [--runs 3]

Two Havens: an upstream holding a large LFS file, and a mirror configured to pull through from it.
1. Time to first byte of the first download through the mirror (the repository was mirrored by the repo
   info request clients make first, timed apart; the file is streamed while it is cached): target < 1 s. Baseline: the same download from the
   upstream directly. The whole first download's time is printed too.
   Both files are served the same way (the main port's file responses, or with --blob-server the sendfile
   process the 302 points at).
2. The second download (now from the mirror's blob store) vs a file of the same size uploaded to the mirror
   itself, curl -L, alternated, hot cache: GB/s and ratio, target >= 0.9x.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, check_disk, fmt_runs, haven, make_file, median, settle, verdict

TTFB_TARGET = 1.0
RATIO_TARGET = 0.9


def curl(url: str, size: int) -> tuple[float, float]:
    """(seconds to the first byte, seconds in all) of a curl -L download of `url` to /dev/null."""
    args = ["curl", "-sS", "-L", "-o", "/dev/null", "-w", "%{size_download} %{time_starttransfer} %{time_total}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout.split()
    if int(out[0]) != size:
        raise RuntimeError(f"{url}: got {out[0]} bytes, expected {size}")
    return float(out[1]), float(out[2])


def upload(hv, repo: str, size: int) -> None:  # type: ignore[no-untyped-def]
    src = hv.root / "file.bin"
    make_file(src, size)
    api = hv.api()
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=str(src), path_in_repo="model.bin", repo_id=repo)
    src.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--blob-server", action="store_true", help="serve the mirror's blobs with sendfile (302)")
    args = ap.parse_args()
    size = args.size_mib << 20
    gb = size / 1e9
    check_disk(Path(tempfile.gettempdir()), 5 * size + GIB // 4)
    with haven(user="up", env={"HAVEN_BLOB_PORT": "0"}) as up:  # the upstream: no sendfile process needed
        upload(up, "up/big", size)
        env = {
            "HAVEN_MIRROR_UPSTREAM": up.url,
            "HAVEN_MIRROR_UPSTREAM_TOKEN": up.token,
            "HAVEN_MIRROR_ALLOW": json.dumps(["up/*"]),
            # --blob-server: LFS bytes from the sendfile process (its 10 s start fails on a loaded machine).
            "HAVEN_BLOB_PORT": "-1" if args.blob_server else "0",
        }
        with haven(env=env) as mirror:
            upload(mirror, f"{mirror.user}/native", size)
            settle()
            direct_ttfb, direct_total = curl(f"{up.url}/up/big/resolve/main/model.bin", size)
            t0 = time.perf_counter()  # what clients ask first (model_info): the mirror fetches the history
            subprocess.run(["curl", "-sSf", "-o", "/dev/null", f"{mirror.url}/api/models/up/big"], check=True)
            mirrored_in = time.perf_counter() - t0
            first_ttfb, first_total = curl(f"{mirror.url}/up/big/resolve/main/model.bin", size)
            mirrored, native = [], []
            for _ in range(args.runs):
                for url, runs in ((f"{mirror.url}/up/big", mirrored), (f"{mirror.url}/{mirror.user}/native", native)):
                    settle()
                    runs.append(gb / curl(f"{url}/resolve/main/model.bin", size)[1])
    ratio = median(mirrored) / median(native)
    print(f"file: {args.size_mib} MiB")
    print(f"first repo info through the mirror (git fetch of the repository): {mirrored_in:.3f}s")
    print(
        f"first download through the mirror: time to first byte {first_ttfb:.3f}s (upstream directly: "
        f"{direct_ttfb:.3f}s), whole download {first_total:.2f}s = {gb / first_total:.2f} GB/s (upstream "
        f"directly: {gb / direct_total:.2f} GB/s) "
        f"-> target < {TTFB_TARGET:.0f} s: {verdict(first_ttfb < TTFB_TARGET)}"
    )
    print(f"second download, mirrored file: {fmt_runs(mirrored, ' GB/s')}")
    print(f"native file on the mirror:      {fmt_runs(native, ' GB/s')}")
    print(f"ratio mirrored/native: {ratio:.2f}x -> target >= {RATIO_TARGET}x: {verdict(ratio >= RATIO_TARGET)}")


if __name__ == "__main__":
    main()
