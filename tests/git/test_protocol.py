"""The wire level: request bodies (gzip, bounds), interrupted and corrupt pushes, the LFS locks API."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from haven.git.smart_http import BadBody, BodyDecoder, BodyTooLarge, pkt_line
from tests.conftest import Hub, start_hub
from tests.git.conftest import Git, unique, url

RECEIVE = {"Content-Type": "application/x-git-receive-pack-request"}


def _repo(hub: Hub, repo_type: str = "model") -> str:
    repo_id = f"alice/{unique()}"
    hub.api("alice").create_repo(repo_id, repo_type=repo_type)
    return repo_id


def _refs(hub: Hub, repo_id: str) -> dict[str, str]:
    refs = hub.api("alice").list_repo_refs(repo_id)
    return {r.ref: r.target_commit for r in refs.branches}


def _push_body(git: Git, hub: Hub, repo_id: str, work: Path, size: int) -> tuple[bytes, str, str]:
    """A receive-pack request moving main to a new commit with `size` random bytes: body, old, new."""
    git.run("clone", "-q", url(hub, repo_id), str(work))
    (work / "noise.txt").write_bytes(os.urandom(size).hex().encode()[:size])
    new = git.commit_all(work, "noise")
    old = git.out("rev-parse", "origin/main", cwd=work)
    pack = git.run_bytes("pack-objects", "--stdout", "--revs", cwd=work, input=f"{new}\n^{old}\n".encode())
    command = pkt_line(f"{old} {new} refs/heads/main\0report-status agent=haven-test\n".encode())
    return command + b"0000" + pack, old, new


def _incoming(hub: Hub) -> list[Path]:
    return list(hub.server.data_dir.glob("repos/*/*.git/objects/*incoming-*"))


def _auth(hub: Hub) -> tuple[str, str]:
    return ("alice", hub.tokens["alice"])


def test_interrupted_push_leaves_refs_unchanged(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub)
    body, old, _ = _push_body(git, hub, repo_id, tmp_path / "w", 3_000_000)
    host, port = hub.url.removeprefix("http://").split(":")
    token = httpx.BasicAuth(*_auth(hub))._auth_header
    head = (
        f"POST /{repo_id}/git-receive-pack HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/x-git-receive-pack-request\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)  # receive-pack is busy with the first half
    deadline = time.monotonic() + 20
    while _incoming(hub) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _incoming(hub), "the quarantined objects of the interrupted push were left behind"
    assert _refs(hub, repo_id) == {"refs/heads/main": old}
    # The whole request, sent again, goes through.
    r = httpx.post(f"{hub.url}/{repo_id}/git-receive-pack", content=body, headers=RECEIVE, auth=_auth(hub))
    assert r.status_code == 200 and b"unpack ok" in r.content and b"ok refs/heads/main" in r.content


def test_a_dead_pushs_quarantine_is_swept_by_a_later_push(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    """receive-pack killed with -9 leaves objects/tmp_objdir-incoming-*; the next push to the repository removes
    such a dir once nothing in it was written for a day, and leaves a younger one (a push still receiving)."""
    hub = sqlite_hub
    repo_id = _repo(hub)
    objects = _storage(hub, repo_id) / "objects"
    stale, live = objects / "tmp_objdir-incoming-dead01", objects / "tmp_objdir-incoming-live01"
    for d in (stale, live):
        (d / "pack").mkdir(parents=True)
        (d / "pack" / "tmp_pack_x").write_bytes(b"PACK")
    day_ago = time.time() - 25 * 3600
    for p in (stale, stale / "pack", stale / "pack" / "tmp_pack_x"):
        os.utime(p, (day_ago, day_ago))
    try:
        body, _, _ = _push_body(git, hub, repo_id, tmp_path / "w", 1000)
        r = httpx.post(f"{hub.url}/{repo_id}/git-receive-pack", content=body, headers=RECEIVE, auth=_auth(hub))
        assert r.status_code == 200 and b"ok refs/heads/main" in r.content
        assert not stale.exists() and live.exists()
    finally:
        shutil.rmtree(live, ignore_errors=True)  # other tests here check that no quarantine is left


def _storage(hub: Hub, repo_id: str) -> Path:
    """The bare repository holding `repo_id` (storage keys are opaque): the one whose main is its head."""
    head = hub.api("alice").repo_info(repo_id).sha
    for path in hub.server.data_dir.glob("repos/*/*.git"):
        main = subprocess.run(["git", "-C", str(path), "rev-parse", "refs/heads/main"], capture_output=True, text=True)
        if main.stdout.strip() == head:
            return path
    raise AssertionError(f"no storage holds {repo_id}")


def test_corrupt_pack_is_refused(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub)
    body, old, _ = _push_body(git, hub, repo_id, tmp_path / "w", 200_000)
    corrupt = bytearray(body)
    corrupt[len(body) // 2] ^= 0xFF
    truncated = body[:-30]
    for bad in (bytes(corrupt), truncated):
        r = httpx.post(f"{hub.url}/{repo_id}/git-receive-pack", content=bad, headers=RECEIVE, auth=_auth(hub))
        assert r.status_code == 200  # git answers in the protocol: the unpack failed, no ref moved
        assert b"unpack ok" not in r.content and b"ng refs/heads/main" in r.content
        assert _refs(hub, repo_id) == {"refs/heads/main": old}
    assert not _incoming(hub)


def test_gzip_request_bodies(sqlite_hub: Hub, git: Git) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub, "dataset")
    head = hub.api(None).dataset_info(repo_id).sha
    request = pkt_line(f"want {head} ofs-delta\n".encode()) + b"0000" + pkt_line(b"done\n")
    endpoint = f"{hub.url}/datasets/{repo_id}.git/git-upload-pack"
    headers = {"Content-Type": "application/x-git-upload-pack-request"}
    plain = httpx.post(endpoint, content=request, headers=headers)
    assert plain.status_code == 200 and plain.content.startswith(b"0008NAK\nPACK")
    assert plain.headers["content-type"] == "application/x-git-upload-pack-result"
    zipped = httpx.post(endpoint, content=gzip.compress(request), headers={**headers, "Content-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.content == plain.content
    bad = httpx.post(endpoint, content=b"not gzip at all", headers={**headers, "Content-Encoding": "gzip"})
    assert bad.status_code == 400 and "gzip" in bad.text
    odd = httpx.post(endpoint, content=request, headers={**headers, "Content-Encoding": "br"})
    assert odd.status_code == 415
    form = httpx.post(endpoint, content=request, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and "x-git-upload-pack-request" in form.text


def test_body_decoder_bounds_inflated_bytes() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB from about 50 kB
    decoder = BodyDecoder("gzip", 1_000_000)
    with pytest.raises(BodyTooLarge):
        for i in range(0, len(bomb), 4096):
            decoder.feed(bomb[i : i + 4096])
    assert decoder.total <= 1_000_000 + 256 * 1024  # never more than one piece past the bound
    with pytest.raises(BodyTooLarge):
        BodyDecoder(None, 10).feed(b"x" * 11)
    with pytest.raises(BadBody):
        BodyDecoder("gzip", 100).feed(gzip.compress(b"a") + b"trailing")
    truncated = BodyDecoder("gzip", 100)
    truncated.feed(gzip.compress(b"abc" * 10)[:-4])
    with pytest.raises(BadBody):
        truncated.finish()
    whole = BodyDecoder("gzip", 100)
    data = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    stream = data.compress(b"hello") + data.flush()
    assert b"".join(whole.feed(stream[:3]) + whole.feed(stream[3:]) + whole.finish()) == b"hello"


@pytest.fixture(scope="module")
def small_hub() -> Iterator[Hub]:
    """A server of its own whose request bodies are bounded at 1 MB, and LFS parts too."""
    env = {"HAVEN_MAX_REQUEST_BODY": "1000000", "HAVEN_MULTIPART_CHUNK_SIZE": "1000000"}
    hub = start_hub("haven-git-small-", env=env)
    yield hub
    hub.server.stop()


def test_push_over_the_body_limit_is_refused(small_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = small_hub
    repo_id = _repo(hub)
    work = tmp_path / "w"
    git.run("clone", "-q", url(hub, repo_id, "alice"), str(work))
    (work / "noise.txt").write_bytes(os.urandom(1_500_000).hex().encode())  # 3 MB, compresses to 1.5 MB
    git.commit_all(work, "noise")
    before = _refs(hub, repo_id)
    r = git.run("push", "origin", "main", cwd=work, check=False)
    assert r.returncode != 0 and "413" in r.stderr
    assert _refs(hub, repo_id) == before
    assert not _incoming(hub)
    # Within the bound, fine.
    git.run("reset", "-q", "--hard", "origin/main", cwd=work)
    (work / "small.txt").write_text("small")
    git.commit_all(work, "small")
    git.run("push", "origin", "main", cwd=work)


def test_git_lfs_push_of_an_object_larger_than_a_multipart_part(small_hub: Hub, git: Git, tmp_path: Path) -> None:
    """git-lfs speaks only the basic transfer: it gets one PUT for any size, never huggingface_hub's parts."""
    hub = small_hub
    repo_id = _repo(hub)
    work = tmp_path / "w"
    git.run("clone", "-q", url(hub, repo_id, "alice"), str(work))
    data = os.urandom(3_000_000)
    (work / "weights.bin").write_bytes(data)
    sha = git.commit_all(work, "weights")
    git.run("push", "origin", "main", cwd=work)
    assert hub.api("alice").model_info(repo_id).sha == sha
    again = tmp_path / "again"
    git.run("clone", "-q", url(hub, repo_id), str(again))
    assert (again / "weights.bin").read_bytes() == data


def test_lfs_locks_api(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub)
    base = f"{hub.url}/{repo_id}.git/info/lfs/locks"
    lfs = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
    r = httpx.post(f"{base}/verify", json={"ref": {"name": "refs/heads/main"}}, headers=lfs, auth=_auth(hub))
    assert r.status_code == 501 and "not supported" in r.json()["message"]  # git-lfs then stops asking
    r = httpx.post(f"{base}/verify", json={}, headers=lfs)
    assert r.status_code == 401 and "LFS-Authenticate" in r.headers
    # Anyone signed in may push to their pull requests' refs of a public repo, so git-lfs may ask...
    r = httpx.post(f"{base}/verify", json={}, headers=lfs, auth=("carol", hub.tokens["carol"]))
    assert r.status_code == 501
    # ...but not with a read-only token, and creating a lock needs write access.
    r = httpx.post(f"{base}/verify", json={}, headers=lfs, auth=("alice", hub.read_tokens["alice"]))
    assert r.status_code == 403
    carol = ("carol", hub.tokens["carol"])
    assert httpx.post(base, json={"path": "a.bin"}, headers=lfs, auth=carol).status_code == 403
    assert httpx.get(base, headers=lfs).json() == {"locks": []}
    assert httpx.post(base, json={"path": "a.bin"}, headers=lfs, auth=_auth(hub)).status_code == 501


def test_hook_outside_haven_refuses(tmp_path: Path) -> None:
    """The pre-receive hook run by anything but Haven's receive-pack (no socket to report to) refuses."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_HOOK")}
    r = subprocess.run(
        [sys.executable, "-m", "haven.git.hook"], input=b"a b refs/heads/main\n", capture_output=True, env=env
    )
    assert r.returncode == 1 and b"only through Haven" in r.stderr
    env["HAVEN_HOOK_SOCKET"] = str(tmp_path / "nobody-listens.sock")
    r = subprocess.run([sys.executable, "-m", "haven.git.hook"], input=b"", capture_output=True, env=env)
    assert r.returncode == 1 and b"did not answer" in r.stderr
