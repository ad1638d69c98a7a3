"""Repository lifecycle and lookup: create, find (respecting visibility), delete, move, settings, likes."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven import search
from haven.audit import service as audit
from haven.auth.models import Account
from haven.auth.permissions import Actor, Permission, can, can_create_in
from haven.db import utcnow
from haven.errors import BadRequest, Conflict, Forbidden, RepoNotFound
from haven.git.lfs import default_gitattributes
from haven.git.store import GitRepo, Put, open_repo
from haven.hub import Hub
from haven.jobs.queue import wake as wake_workers
from haven.names import REPO_TYPES, URL_PREFIX, check_name
from haven.repos import signals
from haven.repos.models import Like, Repo
from haven.webhooks import events as hooks


@dataclass(frozen=True)
class RepoRef:
    """A repository as looked up for one request: its row and its git handle."""

    row: Repo
    git: GitRepo
    path: Path

    @property
    def type(self) -> str:
        return self.row.type

    @property
    def full_id(self) -> str:
        return self.row.full_id


def web_path(repo_type: str, full_id: str) -> str:
    return f"{URL_PREFIX[repo_type]}{full_id}"


def find_repo(hub: Hub, session: Session, actor: Actor, repo_type: str, full_id: str, perm: Permission) -> RepoRef:
    """The repository, if `actor` may see it; RepoNotFound otherwise (private repos never leak),
    Forbidden if they may see it but lack `perm`."""
    row = session.scalar(select(Repo).where(Repo.type == repo_type, Repo.full_id == full_id))
    if row is None or not can(actor, Permission.READ, row):
        raise RepoNotFound(f"Repository not found: {web_path(repo_type, full_id)}")
    if perm is not Permission.READ and not can(actor, perm, row):
        raise Forbidden(refusal(actor, perm, row))
    path = hub.repo_path(row.storage_key)
    return RepoRef(row, open_repo(path), path)


ACTIONS = {
    Permission.CONTRIBUTE: "open discussions or pull requests on",
    Permission.WRITE: "write to",
    Permission.ADMIN: "administer",
}


def refusal(actor: Actor, perm: Permission, row: Repo) -> str:
    """Why `actor` may see `row` but not do `perm` to it, in words that say what to change."""
    if actor.anonymous:
        return "You must be authenticated to write to this repository"
    where = web_path(row.type, row.full_id)
    if not actor.token_allows(perm, row):
        why = "your token is read-only" if actor.scope is None else "it is outside your fine-grained token's scope"
        return f"You don't have the rights to {ACTIONS[perm]} {where} ({why})"
    return f"You don't have the rights to {ACTIONS[perm]} {where}"


def create_repo(
    hub: Hub,
    actor: Actor,
    *,
    repo_type: str,
    namespace: str | None,
    name: str,
    private: bool = False,
    sdk: str | None = None,
) -> Repo:
    if repo_type not in REPO_TYPES:
        raise BadRequest(f"Invalid repo type {repo_type!r}")
    if actor.anonymous:
        raise Forbidden("You must be authenticated to create a repository")
    check_name(name)
    namespace = namespace or actor.name
    assert namespace is not None
    full_id = f"{namespace}/{name}"
    with hub.db.write() as session:
        # An existing repository the caller can see is a 409 with its url even without the right to create
        # (a read token): create_repo(exist_ok=True) then works, where the client's 403 fallback cannot
        # build a URL for a non-huggingface.co endpoint.
        existing = session.scalar(select(Repo).where(Repo.type == repo_type, Repo.full_id == full_id))
        if existing is not None and can(actor, Permission.READ, existing):
            raise Conflict("You already created this repo", url_path=web_path(repo_type, full_id))
        owner = session.scalar(select(Account).where(Account.name == namespace))
        if owner is None or not can_create_in(actor, owner.id):
            raise Forbidden(f"You don't have the rights to create a repository under {namespace!r}")
        if existing is not None:
            raise Conflict("A repository with this name already exists")
        row = Repo(
            type=repo_type,
            owner_id=owner.id,
            namespace=namespace,
            name=name,
            full_id=full_id,
            storage_key=secrets.token_hex(16),
            private=private,
            sdk=sdk,
            tags=[],
        )
        session.add(row)
        session.flush()
        search.index_card(session, row.id, full_id, "", [])
        path = hub.repo_path(row.storage_key)
        row.head_sha = _init_git(path, repo_type, actor)
        # The git directory exists before the row commits; a crash in between leaves an orphan
        # directory (never a row without its repository), which `haven fsck` can sweep.
        hooks.emit_repo(session, hub.settings, row, "create", hooks.REPO)
        audit.record(session, "repo.create", actor=actor, target=f"{repo_type}:{full_id}", private=private)
    wake_workers()
    return row


def _init_git(path: Path, repo_type: str, actor: Actor) -> str:
    git = GitRepo.init(path)
    blob = git.write_blob(default_gitattributes(repo_type).encode())
    tree = git.build_tree(None, [Put(".gitattributes", blob)])
    commit = git.write_commit(tree, [], "initial commit", author_of(actor))
    git.update_ref("refs/heads/main", commit, None)
    return commit


def author_of(actor: Actor) -> tuple[str, str]:
    name = actor.name or "anonymous"
    return name, f"{name}@users.noreply.haven"


def delete_repo(hub: Hub, actor: Actor, repo_type: str, full_id: str) -> None:
    with hub.db.write() as session:
        ref = find_repo(hub, session, actor, repo_type, full_id, Permission.ADMIN)
        hooks.emit_repo(session, hub.settings, ref.row, "delete", hooks.REPO)
        audit.record(session, "repo.delete", actor=actor, target=f"{repo_type}:{ref.row.full_id}")
        search.remove(session, ref.row.id)
        session.delete(ref.row)
        trash = hub.settings.data_dir / "trash" / ref.row.storage_key
    wake_workers()
    # Row gone first: from here on nobody can reach the repository, so removing it is safe.
    trash.parent.mkdir(parents=True, exist_ok=True)
    if ref.path.exists():
        ref.path.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)


def move_repo(hub: Hub, actor: Actor, repo_type: str, from_id: str, to_id: str) -> Repo:
    parts = to_id.split("/")
    if len(parts) != 2:
        raise BadRequest(f"Invalid repository id {to_id!r}: expected namespace/name")
    namespace, name = parts
    check_name(name)
    with hub.db.write() as session:
        ref = find_repo(hub, session, actor, repo_type, from_id, Permission.ADMIN)
        owner = session.scalar(select(Account).where(Account.name == namespace))
        if owner is None or not can_create_in(actor, owner.id):
            raise Forbidden(f"You don't have the rights to create a repository under {namespace!r}")
        row = ref.row
        moved_to = {"name": to_id, "owner": {"id": f"{owner.id:024x}"}}
        hooks.emit_repo(session, hub.settings, row, "move", hooks.REPO, also_named=to_id, movedTo=moved_to)
        audit.record(session, "repo.move", actor=actor, target=f"{repo_type}:{row.full_id}", to=to_id)
        row.owner_id, row.namespace, row.name, row.full_id = owner.id, namespace, name, to_id
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"A repository named {to_id} already exists") from None
        search.index_name(session, row.id, to_id)
    wake_workers()
    return row


def update_settings(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, *, private: bool | None, gated: str | bool | None
) -> None:
    with hub.db.write() as session:
        row = find_repo(hub, session, actor, repo_type, full_id, Permission.ADMIN).row
        was_private = row.private
        if private is not None:
            row.private = private
        if gated is not None:
            if gated not in (False, "auto", "manual"):
                raise BadRequest("gated must be 'auto', 'manual' or false")
            row.gated = gated or None
        if private is not None and private != was_private:
            hooks.emit_repo(session, hub.settings, row, "update", hooks.CONFIG, updatedConfig={"private": private})
            audit.record(session, "repo.visibility", actor=actor, target=f"{repo_type}:{row.full_id}", private=private)
    wake_workers()


def set_like(hub: Hub, actor: Actor, repo_type: str, full_id: str, liked: bool) -> None:
    if actor.anonymous:
        raise Forbidden("You must be authenticated to like a repository")
    with hub.db.write() as session:
        row = find_repo(hub, session, actor, repo_type, full_id, Permission.READ).row
        if not actor.token_allows(Permission.CONTRIBUTE, row):  # a like is a write: not with a read token
            raise Forbidden(refusal(actor, Permission.CONTRIBUTE, row))
        existing = session.get(Like, (actor.user_id, row.id))
        if liked and existing is None:
            session.add(Like(user_id=actor.user_id, repo_id=row.id))
            delta, day = 1, signals.today()
        elif not liked and existing is not None:
            session.execute(delete(Like).where(Like.user_id == actor.user_id, Like.repo_id == row.id))
            delta, day = -1, signals.today(existing.created_at.replace(tzinfo=UTC).timestamp())
        else:
            return
        session.execute(update(Repo).where(Repo.id == row.id).values(likes=Repo.likes + delta))
        signals.record_like(session, row.id, delta, day)


def touch(session: Session, repo_id: int, head_sha: str | None) -> None:
    values: dict[str, object] = {"last_modified": utcnow()}
    if head_sha is not None:
        values["head_sha"] = head_sha
    session.execute(update(Repo).where(Repo.id == repo_id).values(**values))
