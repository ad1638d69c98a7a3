"""Backup, fsck and gc on a hub holding `--files` LFS files of `--size-mib` MiB in all, over `--repos` repositories.

Figures: `haven backup` of the whole hub into an empty directory against `cp -a` of the same data directory
(baseline, same run, alternated); an incremental `haven backup` when nothing changed; `haven fsck` and
`haven fsck --verify-hashes` (the latter reads every byte: against hashing the blob files with hashlib in a
loop, the floor of any hashing check); `haven gc --dry-run`. Each is timed `--runs` times in this process, the hub opened
once (on a busy machine starting the `haven` command alone takes seconds, which would hide the work).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fmt_runs, haven, median, settle
from haven.config import Settings
from haven.hub import Hub as HavenHub
from haven.recovery import fsck, gc
from haven.recovery.backup import backup


def hash_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def timed(work: Callable[[], object]) -> float:
    settle()
    start = time.perf_counter()
    work()
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
        haven_hub = HavenHub.open(Settings(data_dir=data))
        full, copy, incremental = [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="bench-backup-") as scratch:
                copy_to, backup_to = Path(scratch) / "copy", Path(scratch) / "backup"
                copy.append(timed(lambda: subprocess.run(["cp", "-a", str(data), str(copy_to)], check=True)))  # noqa: B023
                full.append(timed(lambda: backup(haven_hub, backup_to)))  # noqa: B023
                incremental.append(timed(lambda: backup(haven_hub, backup_to)))  # noqa: B023
        checks = [timed(lambda: fsck.run(haven_hub)) for _ in range(args.runs)]
        blobs = glob.glob(str(data / "blobs" / "sha256" / "*" / "*" / "*"))
        verify, sha = [], []
        for _ in range(args.runs):  # alternated
            verify.append(timed(lambda: fsck.run(haven_hub, verify_hashes=True)))
            sha.append(timed(lambda: [hash_file(b) for b in blobs]))
        sweeps = [timed(lambda: gc.collect(haven_hub, grace=86400, dry_run=True)) for _ in range(args.runs)]
        haven_hub.close()
    print(f"hub: {args.repos} repositories, {args.files} LFS files, {args.size_mib} MiB")
    print(f"haven backup (full)        {fmt_runs(full, ' s')}")
    print(f"cp -a (baseline)           {fmt_runs(copy, ' s')}   ratio {median(full) / median(copy):.2f}x")
    print(f"haven backup (incremental) {fmt_runs(incremental, ' s')}")
    print(f"haven fsck                 {fmt_runs(checks, ' s')}")
    print(f"haven fsck --verify-hashes {fmt_runs(verify, ' s')}")
    print(f"sha256 of the blobs (baseline) {fmt_runs(sha, ' s')}   ratio {median(verify) / median(sha):.2f}x")
    print(f"haven gc --dry-run         {fmt_runs(sweeps, ' s')}")


if __name__ == "__main__":
    main()
