"""Commits are all or nothing, and concurrent ones neither lose each other nor corrupt the branch."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Hub
from tests.faults.conftest import (
    add,
    add_lfs,
    auth,
    commit,
    delete,
    download,
    files,
    head,
    sha256,
    upload_href,
)

# Each case: operations whose failure comes after some valid operations; (status, X-Error-Code) expected.
FAILING_MIDDLES: dict[str, tuple[Callable[[], list[dict[str, Any]]], int]] = {
    "delete-missing-file": (lambda: [add("a.txt", b"a"), delete("missing.txt"), add("b.txt", b"b")], 404),
    "delete-missing-folder": (
        lambda: [add("a.txt", b"a"), {"key": "deletedFolder", "value": {"path": "nope/"}}, add("b.txt", b"b")],
        404,
    ),
    "unknown-lfs-oid": (lambda: [add("a.txt", b"a"), add_lfs("w.bin", sha256(os.urandom(8)), 8)], 400),
    "file-under-a-file": (lambda: [add("a.txt", b"a"), add("seed.txt/inner.txt", b"x")], 400),
    "folder-over-a-file": (lambda: [add("dir/x.txt", b"a"), add("dir", b"x")], 400),
    "bad-path-last": (lambda: [add("a.txt", b"a"), add("b.txt", b"b"), add("../c.txt", b"c")], 400),
    "pointer-as-content": (
        lambda: [
            add("a.txt", b"a"),
            add("fake.txt", f"version https://git-lfs.github.com/spec/v1\noid sha256:{'a' * 64}\nsize 5\n".encode()),
        ],
        400,
    ),
}


@pytest.mark.parametrize("case", list(FAILING_MIDDLES))
def test_failed_commit_leaves_the_branch_unchanged(hub: Hub, http: httpx.Client, repo_id: str, case: str) -> None:
    assert commit(http, hub, repo_id, [add("seed.txt", b"seed")]).status_code == 200
    before, tree = head(http, hub, repo_id), files(http, hub, repo_id)
    commits = len(hub.api().list_repo_commits(repo_id))
    make_ops, status = FAILING_MIDDLES[case]
    r = commit(http, hub, repo_id, make_ops())
    assert r.status_code == status, r.text
    assert head(http, hub, repo_id) == before
    assert files(http, hub, repo_id) == tree
    assert len(hub.api().list_repo_commits(repo_id)) == commits
    assert hub.api().model_info(repo_id).sha == before
    # And the branch takes the next good commit normally.
    assert commit(http, hub, repo_id, [add("after.txt", b"ok")]).status_code == 200


def test_failed_commit_on_another_branch_leaves_both_unchanged(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    hub.api().create_branch(repo_id, branch="dev")
    main, dev = head(http, hub, repo_id), head(http, hub, repo_id, "dev")
    r = commit(http, hub, repo_id, [add("x.txt", b"x"), delete("missing")], revision="dev")
    assert r.status_code == 404
    assert (head(http, hub, repo_id), head(http, hub, repo_id, "dev")) == (main, dev)


def test_client_commit_that_fails_leaves_the_branch_unchanged(hub: Hub, repo_id: str) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import EntryNotFoundError

    api = hub.api()
    before = api.model_info(repo_id).sha
    ops = [
        CommitOperationAdd("one.txt", b"1"),
        CommitOperationAdd("weights.bin", os.urandom(5000)),  # through LFS first
        CommitOperationDelete("not-there.txt"),
        CommitOperationAdd("two.txt", b"2"),
    ]
    with pytest.raises(EntryNotFoundError):
        api.create_commit(repo_id, ops, commit_message="half")
    assert api.model_info(repo_id).sha == before
    assert api.list_repo_files(repo_id) == [".gitattributes"]


THREADS, PER_THREAD = 8, 3


def _storm(
    hub: Hub, repo_id: str, make_ops: Callable[[int, int], list[dict[str, Any]]], parent: str | None = None
) -> list[httpx.Response]:
    """THREADS threads, each with its own connection, committing PER_THREAD times as fast as they can."""
    barrier = threading.Barrier(THREADS)

    def worker(t: int) -> list[httpx.Response]:
        out = []
        with httpx.Client(base_url=hub.url, timeout=120) as client:
            barrier.wait()
            for i in range(PER_THREAD):
                out.append(commit(client, hub, repo_id, make_ops(t, i), parent=parent))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        return [r for rs in pool.map(worker, range(THREADS)) for r in rs]


def test_concurrent_commits_all_land(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    start = head(http, hub, repo_id)
    results = _storm(hub, repo_id, lambda t, i: [add(f"t{t}/c{i}.txt", f"{t}-{i}".encode())])
    assert [r.status_code for r in results] == [200] * THREADS * PER_THREAD, [r.text for r in results]
    oids = {r.json()["commitOid"] for r in results}
    assert len(oids) == THREADS * PER_THREAD
    # History is one line through every commit, on top of where we started.
    history = hub.api().list_repo_commits(repo_id)
    assert len(history) == THREADS * PER_THREAD + 1
    assert {c.commit_id for c in history[:-1]} == oids and history[-1].commit_id == start
    tree = files(http, hub, repo_id)
    for t in range(THREADS):
        for i in range(PER_THREAD):
            assert download(http, hub, repo_id, f"t{t}/c{i}.txt") == f"{t}-{i}".encode()
    assert len(tree) == THREADS * PER_THREAD + 1
    # The metadata agrees with git: listings show the head the branch really has.
    sha = head(http, hub, repo_id)
    assert hub.api().model_info(repo_id).sha == sha
    (listed,) = [m for m in hub.api().list_models(search=repo_id.split("/")[1])]
    assert listed.sha == sha


def test_concurrent_commits_editing_the_same_file_all_land(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    results = _storm(hub, repo_id, lambda t, i: [add("shared.txt", f"{t}-{i}".encode()), add(f"own-{t}-{i}", b"x")])
    assert {r.status_code for r in results} == {200}
    final = download(http, hub, repo_id, "shared.txt").decode()
    last = hub.api().list_repo_commits(repo_id)[0].commit_id
    assert last == head(http, hub, repo_id)
    assert final in {f"{t}-{i}" for t in range(THREADS) for i in range(PER_THREAD)}
    assert len(files(http, hub, repo_id)) == THREADS * PER_THREAD + 2


def test_concurrent_commits_bringing_the_same_new_lfs_object(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    """Every commit stores the same *.bin content inline, so each records the same new LFS object at once."""
    blob = os.urandom(2048)
    results = _storm(hub, repo_id, lambda t, i: [add(f"w-{t}-{i}.bin", blob)])
    assert [r.status_code for r in results] == [200] * THREADS * PER_THREAD, {r.text for r in results}
    tree = files(http, hub, repo_id)
    assert {e["lfs"]["oid"] for p, e in tree.items() if p.endswith(".bin")} == {sha256(blob)}
    assert download(http, hub, repo_id, "w-0-0.bin") == blob
    # The object is recorded for the repository: a same-repo copy (lfsFile without size) works.
    assert commit(http, hub, repo_id, [add_lfs("copy.bin", sha256(blob), None)]).status_code == 200


def test_concurrent_lfs_uploads_of_one_object(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    data = os.urandom(300_000)
    oid = sha256(data)
    href = upload_href(http, hub, repo_id, oid, len(data))
    barrier = threading.Barrier(THREADS)

    def put(_: int) -> int:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            return client.put(href, content=data).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        assert set(pool.map(put, range(THREADS))) == {200}
    assert commit(http, hub, repo_id, [add_lfs("w.bin", oid, len(data))]).status_code == 200
    assert download(http, hub, repo_id, "w.bin") == data


def test_stale_parent_commit_is_412(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    first = head(http, hub, repo_id)
    assert commit(http, hub, repo_id, [add("a.txt", b"a")], parent=first).status_code == 200
    second = head(http, hub, repo_id)
    for parent in (first, first[:7], first.upper()):
        r = commit(http, hub, repo_id, [add("b.txt", b"b")], parent=parent)
        assert r.status_code == 412, r.text
    assert head(http, hub, repo_id) == second
    assert commit(http, hub, repo_id, [add("b.txt", b"b")], parent=second[:10]).status_code == 200
    with pytest.raises(HfHubHTTPError) as e:
        hub.api().create_commit(repo_id, [CommitOperationAdd("c.txt", b"c")], commit_message="c", parent_commit=first)
    assert e.value.response.status_code == 412


def test_concurrent_commits_on_one_parent_one_wins(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    """Optimistic concurrency: of many commits built on the same parent, exactly one lands, the others get 412."""
    parent = head(http, hub, repo_id)
    results = _storm(hub, repo_id, lambda t, i: [add(f"t{t}-{i}.txt", b"x")], parent=parent)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [412] * (THREADS * PER_THREAD - 1), statuses
    (winner,) = [r.json()["commitOid"] for r in results if r.status_code == 200]
    assert head(http, hub, repo_id) == winner
    assert len(files(http, hub, repo_id)) == 2


def test_concurrent_branch_creation_one_wins(hub: Hub, repo_id: str) -> None:
    barrier = threading.Barrier(THREADS)
    branch = f"b-{uuid.uuid4().hex[:6]}"

    def create(_: int) -> int:
        with httpx.Client(base_url=hub.url, timeout=60) as client:
            barrier.wait()
            return client.post(f"/api/models/{repo_id}/branch/{branch}", headers=auth(hub)).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = sorted(pool.map(create, range(THREADS)))
    assert statuses == [200] + [409] * (THREADS - 1)
    assert branch in {b.name for b in hub.api().list_repo_refs(repo_id).branches}


def test_commits_to_different_branches_in_parallel(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    api = hub.api()
    for t in range(THREADS):
        api.create_branch(repo_id, branch=f"br{t}")
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> list[int]:
        with httpx.Client(base_url=hub.url, timeout=120) as client:
            barrier.wait()
            return [
                commit(client, hub, repo_id, [add(f"f{i}.txt", f"{t}/{i}".encode())], revision=f"br{t}").status_code
                for i in range(PER_THREAD)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        assert {s for ss in pool.map(work, range(THREADS)) for s in ss} == {200}
    for t in range(THREADS):
        assert len(api.list_repo_commits(repo_id, revision=f"br{t}")) == PER_THREAD + 1
        assert (
            download(http, hub, repo_id, f"f{PER_THREAD - 1}.txt", revision=f"br{t}")
            == f"{t}/{PER_THREAD - 1}".encode()
        )
    assert api.list_repo_files(repo_id) == [".gitattributes"]
