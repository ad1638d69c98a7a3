"""Storage of a checkpoint series: ten variants of a model, each re-randomising ~5% of the tensors of the one
before, uploaded through Xet, against the same uploads through Git LFS.

    /work/venv/bin/python bench/xet_storage.py [--size-mb 200] [--variants 10] [--changed 0.05]
                                               [--repos one|many] [--fresh-client]

The model is a safetensors file of random bf16/float32 weights (an embedding, then per layer four float32
attention matrices, three bf16 MLP matrices, two norms). Variant k re-draws a few whole tensors of variant
k-1 (chosen at random, never the embedding) until --changed of the bytes are new: like fine-tuning
checkpoints. Each variant is written, uploaded with HfApi.upload_file to both servers, and deleted:

  xet  a Haven whose clients use Xet (hf_xet): chunks are deduplicated against everything stored.
  lfs  a second Haven (its own data dir), the same uploads with HF_HUB_DISABLE_XET=1: whole files.

--repos one (default) commits all variants to one repository (ten commits); --repos many uploads each to a
repository of its own. The client keeps its cache (HF_HOME, where hf_xet keeps the shards it uploaded) across
uploads, as one machine would; --fresh-client gives every upload a new one, so dedup against earlier
variants rests on the server's global dedup (/v1/chunks) alone.

Reported: bytes stored (`haven storage stats --json`: xorb and blob bytes; the files under <data_dir>/xorbs
agree) against the bytes of one variant (target: Xet <= 1.6x), the growth per upload, and upload times.
Then every variant is downloaded at its commit through Xet and with HF_HUB_DISABLE_XET=1 (/resolve
rebuilds it from chunks), each into a fresh cache, and checked byte for byte (sha256) against what was sent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xet_client
from common import (
    GIB,
    check_disk,
    dir_bytes,
    fmt_runs,
    haven,
    model_spec,
    sha256_file,
    tensor_bytes,
    verdict,
    write_safetensors,
)

TARGET = 1.6


def stats(hv) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return json.loads(hv.server.cli("storage", "stats", "--json"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--variants", type=int, default=10)
    ap.add_argument("--changed", type=float, default=0.05, help="fraction of the bytes each variant re-draws")
    ap.add_argument("--repos", choices=("one", "many"), default="one")
    ap.add_argument("--fresh-client", action="store_true", help="a new client cache (HF_HOME) for every upload")
    args = ap.parse_args()
    spec = model_spec(args.size_mb * 1_000_000)
    total = sum(tensor_bytes(t) for t in spec)
    check_disk(Path(tempfile.gettempdir()), int((args.variants + 4) * total * 1.1) + GIB // 4)

    with haven() as xv, haven() as lv:
        work = Path(tempfile.mkdtemp(prefix="bench-xet-storage-", dir=xv.root))
        rng = random.Random(1234)
        candidates = [t for t in spec if tensor_bytes(t) <= args.changed * total]
        seeds: dict[str, int] = {}
        variants: list[dict] = []  # per variant: repo (per server), commit (per server), sha256, size, changed
        for k in range(args.variants):
            changed = 0
            if k:
                for t in rng.sample(candidates, len(candidates)):
                    if changed >= args.changed * total:
                        break
                    seeds[t[0]] = k
                    changed += tensor_bytes(t)
            src = work / "model.safetensors"
            sha = write_safetensors(src, spec, seeds)
            size = src.stat().st_size
            repo = f"bench/model-{k}" if args.repos == "many" else "bench/model"
            row: dict = {"k": k, "sha256": sha, "size": size, "changed": changed, "repo": repo}
            for name, hv, xet in (("xet", xv, True), ("lfs", lv, False)):
                if k == 0 or args.repos == "many":
                    hv.api().create_repo(repo)
                home = work / (f"home-{name}-{k}" if args.fresh_client else f"home-{name}")
                spec_up = {"op": "upload", "endpoint": hv.url, "token": hv.token, "repo": repo, "src": str(src)}
                spec_up |= {"dst": "model.safetensors", "message": f"variant {k}"}
                out = xet_client.run(spec_up, xet=xet, home=home)
                assert out["xet"] == xet, out
                row[name] = {"commit": out["commit"], "seconds": out["seconds"]}
                stored = stats(hv)
                row[name]["stored"] = stored["xorb_bytes"] if xet else stored["blob_bytes"]
            variants.append(row)
            src.unlink()
            print(
                f"variant {k}: {size / 1e6:.1f} MB, {changed / size:.1%} re-drawn; "
                f"stored xet {row['xet']['stored'] / 1e6:.1f} MB (upload {row['xet']['seconds']:.2f}s), "
                f"lfs {row['lfs']['stored'] / 1e6:.1f} MB (upload {row['lfs']['seconds']:.2f}s)",
                flush=True,
            )

        # --- every variant back, byte for byte ---------------------------------------------------------
        mismatches = []
        for row in variants:
            for xet in (True, False):
                cache = Path(tempfile.mkdtemp(prefix="dl-", dir=work))
                spec_dl = {"op": "download", "endpoint": xv.url, "token": xv.token, "repo": row["repo"]}
                spec_dl |= {"path": "model.safetensors", "revision": row["xet"]["commit"], "cache": str(cache / "c")}
                out = xet_client.run(spec_dl, xet=xet, home=cache / "home")
                if sha256_file(out["path"]) != row["sha256"]:
                    mismatches.append((row["k"], "xet" if xet else "plain"))
                shutil.rmtree(cache)
        for row in variants[:1]:  # and the LFS baseline serves what it stored
            cache = Path(tempfile.mkdtemp(prefix="dl-", dir=work))
            spec_dl = {"op": "download", "endpoint": lv.url, "token": lv.token, "repo": row["repo"]}
            spec_dl |= {"path": "model.safetensors", "revision": row["lfs"]["commit"], "cache": str(cache / "c")}
            out = xet_client.run(spec_dl, xet=False, home=cache / "home")
            if sha256_file(out["path"]) != row["sha256"]:
                mismatches.append((row["k"], "lfs"))
            shutil.rmtree(cache)

        xs, ls = stats(xv), stats(lv)
        xorb_files = dir_bytes(xv.server.data_dir / "xorbs" / "sha256")
        blob_files = dir_bytes(lv.server.data_dir / "blobs" / "sha256")

    size = variants[0]["size"]
    n = len(variants)
    redrawn = [r["changed"] / r["size"] for r in variants[1:]]
    x_ratio, l_ratio = xs["stored_bytes"] / size, ls["stored_bytes"] / size
    growth = [(b["xet"]["stored"] - a["xet"]["stored"]) / b["size"] for a, b in itertools.pairwise(variants)]
    x_up = [r["xet"]["seconds"] for r in variants[1:]]
    l_up = [r["lfs"]["seconds"] for r in variants[1:]]
    where = "one repository" if args.repos == "one" else f"{n} repositories"
    client = "a new client cache per upload" if args.fresh_client else "one client cache"
    print(f"\n== {n} variants of a {size / 1e6:.1f} MB safetensors model into {where}, {client} ==")
    print(f"each variant re-draws {fmt_runs([100 * r for r in redrawn], '%', 1)} of the bytes of the one before")
    print(f"logical bytes (every commit's file in full)  {xs['logical_bytes'] / 1e6:10.1f} MB  ({n} x one variant)")
    print(
        f"stored, Xet  (xorbs)                        {xs['stored_bytes'] / 1e6:10.1f} MB  = {x_ratio:.2f}x one variant"
        f"  (files under xorbs/: {xorb_files / 1e6:.1f} MB)"
    )
    print(
        f"stored, LFS  (blobs, baseline)              {ls['stored_bytes'] / 1e6:10.1f} MB  = {l_ratio:.2f}x one variant"
        f"  (files under blobs/: {blob_files / 1e6:.1f} MB)"
    )
    print(f"first variant stored by Xet: {variants[0]['xet']['stored'] / size:.2f}x its size (chunk compression)")
    print(f"growth per later variant, Xet: {fmt_runs([100 * g for g in growth], '% of a variant', 1)}")
    print(f"ratio stored Xet/LFS  {xs['stored_bytes'] / ls['stored_bytes']:.2f}x")
    print(f"upload time of variants 1..{n - 1}: Xet s {fmt_runs(x_up)}   LFS s {fmt_runs(l_up)}")
    print(
        f"downloads checked: {2 * n} from the Xet server (Xet and plain), 1 from the LFS server; mismatches: {mismatches or 'none'}"
    )
    print(f"target Xet <= {TARGET}x one variant: {verdict(x_ratio <= TARGET and not mismatches)}")


if __name__ == "__main__":
    main()
