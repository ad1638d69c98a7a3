"""Debian's git and git-lfs against the git smart HTTP endpoint: clone (LFS- and Xet-stored files), push with LFS.

Plain HTTP only (urllib for the API calls), so it needs no client library. Reports skip when the hub has no
git endpoint.
"""
# requires: git

import json
import os
import random
import shutil
import subprocess
import urllib.parse

from _common import (
    ENDPOINT,
    UID,
    WORK,
    Skip,
    check,
    fetch_sha256,
    fixtures,
    http,
    note,
    run,
    sha256_bytes,
    sha256_file,
    step,
    token,
)

HOME = WORK / "git-home"
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": str(HOME),
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str, cwd=None, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600, check=False)
    if ok and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args[:2])} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return proc


def url(repo_id: str, user_token: str | None = None) -> str:
    parts = urllib.parse.urlsplit(ENDPOINT)
    netloc = f"user:{user_token}@{parts.netloc}" if user_token else parts.netloc
    return f"{parts.scheme}://{netloc}/{repo_id}"


def main() -> None:
    if shutil.which("git") is None or git("lfs", "version", ok=False).returncode != 0:
        raise Skip("git or git-lfs is not installed")
    note("git", git("--version").stdout.strip())
    note("git-lfs", git("lfs", "version").stdout.strip())
    fx = fixtures()
    lfs_id = fx["models"]["lfs"]["repo_id"]
    step("smart HTTP advertisement")
    status, headers, _ = http("GET", f"/{lfs_id}.git/info/refs?service=git-upload-pack")
    if status == 404 or "git-upload-pack-advertisement" not in headers.get("content-type", ""):
        raise Skip(f"no git smart HTTP endpoint (HTTP {status})")
    HOME.mkdir(parents=True, exist_ok=True)
    for key, value in (("user.name", "Compat"), ("user.email", "compat@example.org"), ("init.defaultBranch", "main")):
        git("config", "--global", key, value)
    git("lfs", "install")

    for kind in ("lfs", "xet"):
        repo = fx["models"][kind]
        step(f"git clone the {kind}-stored fixture")
        dest = WORK / f"clone-{kind}"
        git("clone", "-q", url(repo["repo_id"]), str(dest))
        main = repo["revisions"]["main"]
        check(git("rev-parse", "HEAD", cwd=dest).stdout.strip() == main["sha"], "HEAD is not the hub's main")
        for name, digest in main["files"].items():
            check(sha256_file(dest / name) == digest, f"{name} differs after clone (LFS smudge?)")
        step(f"{kind}: tags and branches")
        git("fetch", "-q", "origin", "dev", "--tags", cwd=dest)
        check(git("rev-parse", "v1", cwd=dest).stdout.strip() == repo["revisions"]["v1"]["sha"], "tag v1")
        git("checkout", "-q", "v1", cwd=dest)
        check(sha256_file(dest / "large.bin") == repo["revisions"]["v1"]["files"]["large.bin"], "large.bin@v1")

    priv = fx["private"]
    step("clone a private repo without credentials")
    check(
        git("clone", "-q", url(priv["repo_id"]), str(WORK / "p0"), ok=False).returncode != 0, "anonymous clone worked"
    )
    step("clone a private repo with a token")
    git("clone", "-q", url(priv["repo_id"], token("alice", read=True)), str(WORK / "p1"))
    check(sha256_file(WORK / "p1" / "weights.bin") == priv["files"]["weights.bin"], "private weights.bin differs")

    step("create a repo over the API and push to it")
    repo_id = f"alice/compat-git-{UID}"
    status, _, body = http(
        "POST",
        "/api/repos/create",
        token=token("alice"),
        body=json.dumps({"name": repo_id.split("/")[1], "type": "model"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    check(status == 200, f"create repo: HTTP {status} {body[:200]!r}")
    work = WORK / "push"
    git("clone", "-q", url(repo_id, token("alice")), str(work))
    git("lfs", "track", "*.bin", cwd=work)
    blob = random.Random(UID).randbytes(11 * 1024 * 1024)
    (work / "weights.bin").write_bytes(blob)
    (work / "config.json").write_text('{"pushed": "with git"}')
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "pushed with git", cwd=work)
    git("tag", "v0.1", cwd=work)
    git("push", "-q", "origin", "main", "--tags", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    step("the pushed commit over the API")
    status, _, body = http("GET", f"/api/models/{repo_id}", token=token("alice"))
    check(status == 200 and json.loads(body)["sha"] == head, f"API sha after push: {body[:200]!r}")
    check(fetch_sha256(repo_id, "weights.bin", token=token("alice")) == sha256_bytes(blob), "pushed LFS file differs")
    check(fetch_sha256(repo_id, "config.json", "v0.1") == sha256_bytes(b'{"pushed": "with git"}'), "tag v0.1")
    step("a branch pushed with git, then an API commit fetched back")
    git("push", "-q", "origin", "main:feature", cwd=work)
    status, _, body = http("GET", f"/api/models/{repo_id}/refs")
    check("feature" in {b["name"] for b in json.loads(body)["branches"]}, f"refs {body[:300]!r}")
    git("pull", "-q", "origin", "main", cwd=work)
    step("push without credentials is refused")
    anon = WORK / "anon"
    git("clone", "-q", url(repo_id), str(anon))
    (anon / "x.txt").write_text("x")
    git("add", "-A", cwd=anon)
    git("commit", "-q", "-m", "anonymous", cwd=anon)
    check(git("push", "-q", "origin", "main", cwd=anon, ok=False).returncode != 0, "anonymous push worked")


if __name__ == "__main__":
    run(main)
