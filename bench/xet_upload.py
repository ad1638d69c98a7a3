"""Uploading a changed version of a large file through Xet: does it cost the changed bytes or the file size?

    /work/venv/bin/python bench/xet_upload.py [--sizes-mb 200,800] [--changed 0.05] [--runs 3]

Per size and run, with a new client cache (HF_HOME) and new content each run, through HfApi.upload_file
with hf_xet into one repository:

  first    the full file (a safetensors model of random bf16/float32 weights): every chunk is new.
  changed  the same file with --changed of its bytes re-drawn (whole tensors): only those chunks are new.
  small    (largest size only) the first file with as many bytes re-drawn as `changed` re-draws at the
           smallest size: the same changed bytes in a file several times larger.
  lfs      the `changed` file through Git LFS (HF_HUB_DISABLE_XET=1) into another repository: the whole
           file again, the reference a Xet upload should beat.

Haven runs with bench/probe/sitecustomize.py loaded, which times the CAS's steps inside the server: xorb
storage (verify every chunk's hash, write), shard registration, and within it the sha256 pass that rebuilds
each new file from its chunks to check the sha256 the shard claims (a commit may only reference bytes whose
sha256 the server has verified). Reported per upload kind: seconds, new bytes stored, server seconds per
step, and how the `changed` upload's time splits between the client and each server step.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xet_client
from common import (
    GIB,
    check_disk,
    dir_bytes,
    fmt_runs,
    haven,
    median,
    model_spec,
    tensor_bytes,
    write_safetensors,
)

PROBE = Path(__file__).resolve().parent / "probe"


def redraw(spec: list, base: dict[str, int], fraction_bytes: int, seed: int) -> tuple[dict[str, int], int]:
    """Seeds re-drawing whole random tensors (never one larger than the target) until `fraction_bytes` are new."""
    rng = random.Random(seed)
    candidates = [t for t in spec if tensor_bytes(t) <= fraction_bytes]
    seeds, changed = dict(base), 0
    for t in rng.sample(candidates, len(candidates)):
        if changed >= fraction_bytes:
            break
        seeds[t[0]] = seed
        changed += tensor_bytes(t)
    return seeds, changed


def take(path: Path) -> dict[str, float]:
    """Seconds per probed server step since the last take (summed over calls), and the sha256 pass's bytes."""
    out: dict[str, float] = defaultdict(float)
    if path.exists():
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            out[rec["fn"]] += rec["seconds"]
            if rec["fn"] == "_sha256_of":
                out["sha_bytes"] += rec["bytes"]
        path.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes-mb", default="200,800")
    ap.add_argument("--changed", type=float, default=0.05)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(s) * 1_000_000 for s in args.sizes_mb.split(",")]
    check_disk(Path(tempfile.gettempdir()), int(max(sizes) * (2 * args.runs + 4)) + GIB // 4)
    probe_dir = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    try:
        run(args, sizes, probe_dir / "probe.jsonl")
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)


def run(args: argparse.Namespace, sizes: list[int], probe_log: Path) -> None:
    env = {"PYTHONPATH": str(PROBE), "HAVEN_BENCH_PROBE": str(probe_log)}
    small_changed = int(args.changed * min(sizes))

    # results[size][kind] -> list of per-run dicts
    results: dict[int, dict[str, list[dict[str, float]]]] = {}
    actual: dict[int, int] = {}  # the file's real size (whole layers) per size asked for
    with haven(env=env) as hv:

        def stored() -> int:  # xorbs (Xet) and blobs (LFS)
            return sum(dir_bytes(hv.server.data_dir / d / "sha256") for d in ("xorbs", "blobs"))

        for n, size in enumerate(sizes):
            spec = model_spec(size)
            total = actual[size] = sum(tensor_bytes(t) for t in spec)
            kinds = ["first", "changed", "small", "lfs"] if size == max(sizes) and len(sizes) > 1 else None
            kinds = kinds or ["first", "changed", "lfs"]
            results[size] = {k: [] for k in kinds}
            for r in range(args.runs):
                tag = f"{size // 1_000_000}-{r}"
                repo, lfs_repo = f"{hv.user}/x{tag}", f"{hv.user}/l{tag}"
                hv.api().create_repo(repo)
                hv.api().create_repo(lfs_repo)
                home = hv.root / f"home-{tag}"  # one client cache per run: first, then changed, then small
                seed = 1000 * (n + 1) + 10 * r  # new content for every size and run: nothing to dedup against
                base = {t[0]: seed for t in spec}
                changed_seeds, changed = redraw(spec, base, int(args.changed * total), seed + 1)
                small_seeds, small = redraw(spec, base, small_changed, seed + 2)
                plan = {
                    "first": (base, 0, repo, True),
                    "changed": (changed_seeds, changed, repo, True),
                    "small": (small_seeds, small, repo, True),
                    "lfs": (changed_seeds, changed, lfs_repo, False),
                }
                src = hv.root / "model.safetensors"
                for kind in kinds:
                    seeds, n_changed, target, xet = plan[kind]
                    write_safetensors(src, spec, seeds)
                    take(probe_log)
                    before = stored()
                    spec_up = {"op": "upload", "endpoint": hv.url, "token": hv.token, "repo": target}
                    out = xet_client.run({**spec_up, "src": str(src), "dst": "model.safetensors"}, xet=xet, home=home)
                    assert out["xet"] == xet, out
                    steps = take(probe_log)
                    row = {"seconds": out["seconds"], "client_cpu": out["cpu"], "changed": n_changed}
                    row |= {"new_stored": stored() - before, **steps}
                    results[size][kind].append(row)
                    print(
                        f"{tag} {kind:8s} {out['seconds']:6.2f}s  new bytes stored {row['new_stored'] / 1e6:7.1f} MB  "
                        f"server: xorbs {steps['store_xorb']:.2f}s, shard {steps['register_shard']:.2f}s "
                        f"(sha256 pass {steps['_sha256_of']:.2f}s over {steps['sha_bytes'] / 1e6:.0f} MB)",
                        flush=True,
                    )
                src.unlink()

    print(f"\n== Xet upload of a changed file vs its first upload, {args.runs} runs each (medians) ==")
    header = "size     upload   changed MB   seconds  [runs]                    vs first  new stored MB  "
    print(header + "server xorbs s  shard s  (sha256 pass s)  client CPU s")
    for size, kinds in results.items():
        first = median([r["seconds"] for r in kinds["first"]])
        for kind, rows in kinds.items():
            secs = [r["seconds"] for r in rows]

            def med(key: str, rows: list[dict[str, float]] = rows) -> float:
                return median([r.get(key, 0.0) for r in rows])

            print(
                f"{actual[size] / 1e6:5.0f} MB {kind:8s} {med('changed') / 1e6:9.1f}   {fmt_runs(secs):34s} "
                f"{median(secs) / first:5.2f}x  {med('new_stored') / 1e6:12.1f}  "
                f"{med('store_xorb'):13.2f}  {med('register_shard'):7.2f}  ({med('_sha256_of'):5.2f})"
                f"          {med('client_cpu'):6.2f}"
            )
    print("\nWhere the `changed` upload's time goes (medians):")
    for size, kinds in results.items():
        rows = kinds["changed"]
        secs = median([r["seconds"] for r in rows])
        sha = median([r.get("_sha256_of", 0.0) for r in rows])
        shard = median([r.get("register_shard", 0.0) for r in rows])
        xorb = median([r.get("store_xorb", 0.0) for r in rows])
        rest = secs - shard - xorb
        print(
            f"  {actual[size] / 1e6:5.0f} MB: {secs:.2f}s = server shard registration {shard:.2f}s "
            f"(sha256 pass {sha:.2f}s, {sha / secs:.0%} of the upload) + server xorb storage {xorb:.2f}s "
            f"+ client and the rest {rest:.2f}s"
        )
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        t_lo = median([r["seconds"] for r in results[lo]["changed"]])
        t_small = median([r["seconds"] for r in results[hi]["small"]])
        t_hi = median([r["seconds"] for r in results[hi]["changed"]])
        c_lo = median([r["changed"] for r in results[lo]["changed"]])
        c_small = median([r["changed"] for r in results[hi]["small"]])
        c_hi = median([r["changed"] for r in results[hi]["changed"]])
        print(
            f"\n{c_lo / 1e6:.1f} MB changed in {actual[lo] / 1e6:.0f} MB -> {c_small / 1e6:.1f} MB changed in "
            f"{actual[hi] / 1e6:.0f} MB ({actual[hi] / actual[lo]:.1f}x the file): "
            f"{t_lo:.2f}s -> {t_small:.2f}s ({t_small / t_lo:.2f}x)"
        )
        print(
            f"Same {actual[hi] / 1e6:.0f} MB file, {c_small / 1e6:.1f} -> {c_hi / 1e6:.1f} MB changed "
            f"({c_hi / c_small:.1f}x): {t_small:.2f}s -> {t_hi:.2f}s ({t_hi / t_small:.2f}x)"
        )


if __name__ == "__main__":
    main()
