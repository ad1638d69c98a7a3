"""In-process checks of the push/commit interplay that the end-to-end tests cannot time precisely."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from haven.auth.permissions import Actor
from haven.hub import Hub as HavenHub


@pytest.fixture
def haven(tmp_path: Path) -> Iterator[tuple[HavenHub, Actor]]:
    from haven.auth import service
    from haven.config import Settings

    hub = HavenHub.open(Settings(data_dir=tmp_path / "data"))
    with hub.db.write() as session:
        service.create_user(session, "alice", email="alice@example.org")
        token = service.create_token(session, "alice")
    yield hub, hub.auth.from_token(token)
    hub.close()


def test_api_commit_is_rebuilt_on_a_branch_a_push_moved(
    haven: tuple[HavenHub, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push (which does not take Haven's repository lock) moves main between the API commit reading the
    head and moving it: the commit is built again on top of the pushed one instead of failing or losing it."""
    from haven.git.store import GitRepo, Put
    from haven.repos import commits, service

    hub, alice = haven
    service.create_repo(hub, alice, repo_type="model", namespace=None, name="race")
    real = GitRepo.update_ref
    pushed: list[str] = []

    def update_ref(self: GitRepo, name: str, new: str, old: str | None) -> None:
        if not pushed:  # what receive-pack would do at this very moment
            tree = self.build_tree(old, [Put("pushed.txt", self.write_blob(b"from git"))])
            pushed.append(self.write_commit(tree, [old] if old else [], "pushed\n", ("git", "git@example.org")))
            real(self, name, pushed[0], old)
        real(self, name, new, old)

    monkeypatch.setattr(GitRepo, "update_ref", update_ref)
    request = commits.CommitRequest("api", operations=[commits.AddFile("api.txt", b"from the API")])
    commit, ref = commits.create_commit(hub, alice, "model", "alice/race", "main", request)
    info = ref.git.commit_info(commit)
    assert info.parents == (pushed[0],)
    assert ref.git.ref("refs/heads/main") == commit
    assert {e.path for e in ref.git.list_tree(commit)} == {".gitattributes", "api.txt", "pushed.txt"}
    with hub.db.read() as session:
        from haven.repos.models import Repo

        assert session.get(Repo, ref.row.id).head_sha == commit

    # With a parent commit named, the moved branch is a precondition failure, as before.
    from haven.errors import PreconditionFailed

    pushed.clear()
    stale = commits.CommitRequest("api", parent_commit=commit, operations=[commits.AddFile("b.txt", b"b")])
    with pytest.raises(PreconditionFailed):
        commits.create_commit(hub, alice, "model", "alice/race", "main", stale)
