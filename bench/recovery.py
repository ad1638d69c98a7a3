"""Backup, fsck and gc on a hub holding `--files` LFS files of `--size-mib` MiB in all, over `--repos` repositories.

Figures: `haven backup` of the whole hub into an empty directory against `cp -a` of the same data directory
(baseline, same run, alternated); `haven storage stats` gives the fixed cost of any admin command (start,
imports, opening the hub), to read the others against; an incremental `haven backup` when nothing changed; `haven fsck` and
`haven fsck --verify-hashes` (the latter reads every byte: against `sha256sum` of the blobs, the floor of
any hashing check); `haven gc --dry-run`. Each timed `--runs` times, medians reported.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fmt_runs, haven, median, settle
from tests.support import HAVEN


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    settle()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--repos", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with haven(env={"HAVEN_BLOB_PORT": "0"}) as hub:
        api = hub.api()
        size = (args.size_mib << 20) // args.files
        for r in range(args.repos):
            api.create_repo(f"r{r}")
        for i in range(args.files):
            repo = f"{hub.user}/r{i % args.repos}"
            api.upload_file(path_or_fileobj=os.urandom(size), path_in_repo=f"w{i}.bin", repo_id=repo)
        data = hub.server.data_dir
        cli = [*HAVEN]
        full, copy, incremental = [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="bench-backup-") as scratch:
                dest = Path(scratch)
                copy.append(timed(["cp", "-a", str(data), str(dest / "copy")]))
                full.append(timed([*cli, "backup", str(dest / "backup"), "-q", "--data-dir", str(data)]))
                incremental.append(timed([*cli, "backup", str(dest / "backup"), "-q", "--data-dir", str(data)]))
        fsck = [timed([*cli, "fsck", "-q", "--data-dir", str(data)]) for _ in range(args.runs)]
        verify = [timed([*cli, "fsck", "-q", "--verify-hashes", "--data-dir", str(data)]) for _ in range(args.runs)]
        blobs = glob.glob(str(data / "blobs" / "sha256" / "*" / "*" / "*"))
        sha = [timed(["sha256sum", *blobs]) for _ in range(args.runs)]
        gc = [timed([*cli, "gc", "-q", "--dry-run", "--data-dir", str(data)]) for _ in range(args.runs)]
        # the fixed cost of any `haven` admin command: interpreter, imports, opening (and migrating) the hub
        start = [timed([*cli, "storage", "stats", "--data-dir", str(data)]) for _ in range(args.runs)]
    print(f"hub: {args.repos} repositories, {args.files} LFS files, {args.size_mib} MiB")
    print(f"haven storage stats (fixed cost of a command) {fmt_runs(start, ' s')}")
    print(f"haven backup (full)        {fmt_runs(full, ' s')}")
    print(f"cp -a (baseline)           {fmt_runs(copy, ' s')}   ratio {median(full) / median(copy):.2f}x")
    print(f"haven backup (incremental) {fmt_runs(incremental, ' s')}")
    print(f"haven fsck                 {fmt_runs(fsck, ' s')}")
    print(f"haven fsck --verify-hashes {fmt_runs(verify, ' s')}")
    print(f"sha256sum blobs (baseline) {fmt_runs(sha, ' s')}   ratio {median(verify) / median(sha):.2f}x")
    print(f"haven gc --dry-run         {fmt_runs(gc, ' s')}")


if __name__ == "__main__":
    main()
