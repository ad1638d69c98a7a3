"""Large-file upload: HfApi.upload_file to Haven against the least any client must do to send the same bytes.

    /work/venv/bin/python bench/upload.py [--size-mib 1024] [--runs 3]

Haven: upload_file of the file (plain LFS path, HF_HUB_DISABLE_XET=1) into a fresh repository, with new
content each run (its first 8 bytes), so a new object is really sent and stored every time: preupload,
LFS batch, the part PUTs (multipart above 512 MB), completion, verify, commit.
Baseline: the client's own sha256 of the file (huggingface_hub's sha_fileobj, which upload_file also runs)
plus one plain PUT of the same bytes, through the same HTTP stack (huggingface_hub's http_backoff),
to nginx WebDAV (dav_methods PUT into a temp dir, client_max_body_size 0). Alternated; target <= 1.3x.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, check_disk, fmt_runs, haven, make_file, median, nginx, settle, tree_cpu, verdict, warm

TARGET = 1.3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    size = args.size_mib << 20
    check_disk(Path(tempfile.gettempdir()), int((args.runs + 3.2) * size) + GIB // 4)

    from huggingface_hub.utils import hf_raise_for_status, http_backoff
    from huggingface_hub.utils.sha import sha_fileobj

    with haven() as hv:
        src = hv.root / "model.bin"
        make_file(src, size)
        warm(src)
        api = hv.api()
        dav = hv.root / "dav"
        dav.mkdir()
        server = f"location / {{ root {dav}; dav_methods PUT; client_max_body_size 0; create_full_put_path on; }}"
        with nginx(server) as ng:
            h_secs, b_secs, b_hash, h_cpu = [], [], [], []
            for i in range(args.runs):
                with open(src, "r+b") as f:  # new content each run: a new object, as a real upload would be
                    f.write(i.to_bytes(8, "little"))
                repo = f"{hv.user}/up{i}"
                api.create_repo(repo)
                settle()
                c0 = tree_cpu(hv.pid)
                t0 = time.perf_counter()
                api.upload_file(path_or_fileobj=str(src), path_in_repo="model.bin", repo_id=repo)
                h_secs.append(time.perf_counter() - t0)
                h_cpu.append((tree_cpu(hv.pid) - c0) / (size / 1e9))

                settle()
                t0 = time.perf_counter()
                with open(src, "rb") as f:
                    sha_fileobj(f)
                t1 = time.perf_counter()
                with open(src, "rb") as f:
                    hf_raise_for_status(http_backoff("PUT", f"{ng.url}/model.bin", data=f))
                b_secs.append(time.perf_counter() - t0)
                b_hash.append(t1 - t0)
                assert (dav / "model.bin").stat().st_size == size
                (dav / "model.bin").unlink()
            info = api.get_paths_info(f"{hv.user}/up0", ["model.bin"])[0]
            assert info.size == size and info.lfs is not None

        ratio = median(h_secs) / median(b_secs)
        print(f"\n== upload of {args.size_mib} MiB, {args.runs} alternated runs ==")
        print(f"haven upload_file               s  {fmt_runs(h_secs)}   ({size / 1e9 / median(h_secs):.2f} GB/s)")
        print(f"baseline sha256 + PUT to nginx  s  {fmt_runs(b_secs)}   ({size / 1e9 / median(b_secs):.2f} GB/s)")
        print(f"  of which the client's sha256  s  {fmt_runs(b_hash)}")
        print(f"haven server CPU s/GB              {fmt_runs(h_cpu)}")
        ratios = ", ".join(f"{h / b:.2f}" for h, b in zip(h_secs, b_secs, strict=True))
        print(f"ratio haven/baseline  {ratio:.2f}x (per pair {ratios})")
        print(f"target <= {TARGET}x: {verdict(ratio <= TARGET)}")


if __name__ == "__main__":
    main()
