"""git over HTTP: clone through Haven against git's own daemon on the same bare repository, and an LFS push
against the API upload path.

    /work/venv/bin/python bench/git_clone.py [--runs 5] [--files 1000] [--commits 200] [--lfs-mib 256] [--lfs-runs 3]

Clone: a repository of `--files` small text files and `--commits` commits (built with git fast-import, pushed
to Haven over HTTP). Haven: `git clone http://.../bench/repo` (smart HTTP, protocol v2: git upload-pack
behind granian). Baseline: `git clone git://...` of the very same bare repository (Haven's own directory)
from `git daemon` on loopback. Both into a fresh directory with checkout, alternated; also `--bare` clones,
which leave the checkout out. Target: Haven <= 1.5x the daemon.

LFS push: a `--lfs-mib` file (incompressible, new content each run) added to a clone (*.bin is an LFS
pattern), committed, then `git push`: git-lfs's batch call, one PUT of the object, verify, then the push of
the pointer commit through receive-pack and Haven's pre-receive check. Reported alone and with the
`git add` (git-lfs's clean filter hashes and copies the file into .git/lfs). Baseline: huggingface_hub's
`upload_file` of a file of the same size (preupload, batch, PUT, verify, commit; it hashes the file too).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    GIB,
    Haven,
    _wait_port,
    check_disk,
    fmt_runs,
    free_port,
    haven,
    make_file,
    median,
    settle,
    tree_cpu,
    verdict,
)

TARGET = 1.5


class Git:
    """git with a HOME of its own: no global or system configuration beyond what is set here."""

    def __init__(self, home: Path) -> None:
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        home.mkdir(parents=True, exist_ok=True)
        for key, value in (("user.name", "Bench"), ("user.email", "bench@example.org"), ("init.defaultBranch", "main")):
            self("config", "--global", key, value)

    def __call__(self, *args: str, cwd: Path | None = None, input: bytes | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=cwd, env=self.env, input=input, capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode().strip()

    def timed(self, *args: str, cwd: Path | None = None) -> float:
        t0 = time.perf_counter()
        self(*args, cwd=cwd)
        return time.perf_counter() - t0


def fast_import_stream(files: int, commits: int) -> bytes:
    """One commit adding `files` small text files, then commits changing five of them each."""
    rng = random.Random(42)
    words = [f"w{n}" for n in range(5000)]

    def content() -> bytes:
        return (" ".join(rng.choices(words, k=rng.randint(20, 300))) + "\n").encode()

    paths = [f"dir{i % 25:02d}/sub{i % 7}/file{i:04d}.txt" for i in range(files)]
    out = bytearray()
    for c in range(commits):
        message = f"commit {c}\n".encode()
        out += b"commit refs/heads/main\n"
        out += b"committer Bench <bench@example.org> %d +0000\n" % (1_700_000_000 + c * 60)
        out += b"data %d\n%s" % (len(message), message)
        changed = paths if c == 0 else rng.sample(paths, 5)
        for path in changed:
            data = content()
            out += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)
    out += b"done\n"
    return bytes(out)


def repo_dir(hv: Haven, repo_id: str) -> Path:
    from sqlalchemy import select

    from haven.config import Settings
    from haven.hub import Hub
    from haven.repos.models import Repo

    hub = Hub.open(Settings(data_dir=hv.server.data_dir), migrate=False)
    try:
        with hub.db.read() as session:
            key = session.scalar(select(Repo.storage_key).where(Repo.type == "model", Repo.full_id == repo_id))
        assert key is not None
        return hub.repo_path(key)
    finally:
        hub.close()


def auth_url(hv: Haven, repo_id: str) -> str:
    return f"http://{hv.user}:{hv.token}@{hv.url.removeprefix('http://')}/{repo_id}"


def bench_clone(hv: Haven, git: Git, work: Path, args: argparse.Namespace) -> bool:
    repo_id = f"{hv.user}/clone-bench"
    hv.api().create_repo(repo_id)
    src = work / "src"
    git("init", "-q", str(src))
    t0 = time.perf_counter()
    git("fast-import", "--quiet", cwd=src, input=fast_import_stream(args.files, args.commits))
    git("checkout", "-q", "main", cwd=src)
    t1 = time.perf_counter()
    git("push", "-q", "--force", auth_url(hv, repo_id), "main", cwd=src)
    push_secs = time.perf_counter() - t1
    print(f"built {args.files} files x {args.commits} commits in {t1 - t0:.1f} s; pushed to Haven in {push_secs:.2f} s")

    bare = repo_dir(hv, repo_id)
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={bare.parent}", f"--port={port}",
         "--listen=127.0.0.1", str(bare.parent)],
        env=git.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_port(port, daemon, lambda: "git daemon exited")
        urls = {"haven": f"{hv.url}/{repo_id}", "daemon": f"git://127.0.0.1:{port}/{bare.name}"}
        results: dict[tuple[str, str], list[float]] = {}
        cpu: list[float] = []
        for run in range(args.runs):
            for mode in ("checkout", "bare"):
                for name in ("haven", "daemon") if run % 2 == 0 else ("daemon", "haven"):
                    dest = work / f"{name}-{mode}-{run}"
                    extra = ["--bare"] if mode == "bare" else []
                    c0 = tree_cpu(hv.pid)
                    secs = git.timed("clone", "-q", *extra, urls[name], str(dest))
                    if name == "haven" and mode == "checkout":
                        cpu.append(tree_cpu(hv.pid) - c0)
                    results.setdefault((name, mode), []).append(secs)
                    if run == 0 and mode == "checkout":
                        assert git("rev-list", "--count", "HEAD", cwd=dest) == str(args.commits)
                        assert int(git("ls-files", "-z", cwd=dest).count("\0")) == args.files
                    shutil.rmtree(dest)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait()

    print(f"\n== git clone, {args.files} files x {args.commits} commits, {args.runs} alternated runs ==")
    ok = True
    for mode in ("checkout", "bare"):
        h, d = results["haven", mode], results["daemon", mode]
        ratio = median(h) / median(d)
        print(f"clone ({mode:8}) haven http      s  {fmt_runs(h, digits=3)}")
        print(f"clone ({mode:8}) git daemon      s  {fmt_runs(d, digits=3)}")
        print(f"  ratio {ratio:.2f}x (target <= {TARGET}x): {verdict(ratio <= TARGET)}")
        if mode == "checkout":
            ok = ratio <= TARGET
    print(f"haven (python) CPU per clone      s  {fmt_runs(cpu, digits=3)}   (git upload-pack not included)")
    return ok


def bench_lfs_push(hv: Haven, git: Git, work: Path, args: argparse.Namespace) -> None:
    size = args.lfs_mib << 20
    check_disk(Path(tempfile.gettempdir()), 4 * size + GIB // 4)
    git("lfs", "install", "--skip-repo")
    api = hv.api()
    src = work / "weights.bin"
    make_file(src, size)
    push_secs, total_secs, api_secs = [], [], []
    for i in range(args.lfs_runs):
        with open(src, "r+b") as f:  # new content each run: a new object is really sent and stored
            f.write((1000 + i).to_bytes(8, "little"))
        repo_id = f"{hv.user}/lfs-push-{i}"
        api.create_repo(repo_id)
        clone = work / f"lfs-{i}"
        git("clone", "-q", auth_url(hv, repo_id), str(clone))
        shutil.copyfile(src, clone / "weights.bin")
        settle()
        t0 = time.perf_counter()
        git("add", "weights.bin", cwd=clone)
        git("commit", "-q", "-m", "weights", cwd=clone)
        t1 = time.perf_counter()
        git("push", "-q", "origin", "main", cwd=clone)
        t2 = time.perf_counter()
        push_secs.append(t2 - t1)
        total_secs.append(t2 - t0)
        info = api.get_paths_info(repo_id, ["weights.bin"])[0]
        assert info.lfs is not None and info.size == size
        shutil.rmtree(clone)

        with open(src, "r+b") as f:
            f.write((2000 + i).to_bytes(8, "little"))
        repo_id = f"{hv.user}/lfs-api-{i}"
        api.create_repo(repo_id)
        settle()
        t0 = time.perf_counter()
        api.upload_file(path_or_fileobj=str(src), path_in_repo="weights.bin", repo_id=repo_id)
        api_secs.append(time.perf_counter() - t0)

    gb = size / 1e9
    print(f"\n== LFS push of {args.lfs_mib} MiB, {args.lfs_runs} alternated runs ==")
    print(f"git push (LFS upload + pointer)  s  {fmt_runs(push_secs)}   ({gb / median(push_secs):.2f} GB/s)")
    print(f"git add + commit + push          s  {fmt_runs(total_secs)}   ({gb / median(total_secs):.2f} GB/s)")
    print(f"API upload_file                  s  {fmt_runs(api_secs)}   ({gb / median(api_secs):.2f} GB/s)")
    print(f"  ratio git push / upload_file {median(push_secs) / median(api_secs):.2f}x, "
          f"add+commit+push / upload_file {median(total_secs) / median(api_secs):.2f}x")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--lfs-mib", type=int, default=256)
    ap.add_argument("--lfs-runs", type=int, default=3)
    args = ap.parse_args()
    with haven() as hv:
        work = Path(tempfile.mkdtemp(prefix="bench-git-"))
        try:
            git = Git(work / "home")
            ok = bench_clone(hv, git, work, args)
            if args.lfs_mib > 0:
                bench_lfs_push(hv, git, work, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
