"""Helpers shared by the API routers: repo lookup per request, Link headers, query booleans."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from haven.api.errors import base_url
from haven.auth.permissions import Actor, Permission
from haven.errors import RevisionNotFound
from haven.gating import service as gating
from haven.hub import Hub
from haven.mirror import service as mirror
from haven.mirror.guard import refuse_writes as refuse_mirror_writes
from haven.names import check_revision
from haven.repos.service import RepoRef, find_repo, web_path


def full_id(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def lookup(hub: Hub, actor: Actor, repo_type: str, namespace: str, name: str, perm: Permission) -> RepoRef:
    mirror.ensure(hub, actor, repo_type, full_id(namespace, name))  # mirror mode: fetch or refresh first
    with hub.db.read() as session:
        ref = find_repo(hub, session, actor, repo_type, full_id(namespace, name), perm)
        if perm is Permission.WRITE:
            refuse_mirror_writes(session, ref.row)
        return ref


def resolve_rev(ref: RepoRef, rev: str) -> str:
    check_revision(rev)
    commit = ref.git.resolve(rev)
    if commit is None:
        raise RevisionNotFound(f"Invalid rev id: {rev}")
    return commit


def check_gate(hub: Hub, ref: RepoRef, actor: Actor) -> None:
    """Gated repositories: metadata is public, file contents only for those granted access (haven.gating)."""
    gating.check(hub, ref, actor)


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def next_link(request: Request, **params: object) -> str:
    """An absolute `rel="next"` Link carrying every current query parameter, updated with `params`."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in params]
    items += [(k, str(v)) for k, v in params.items()]
    raw = request.scope.get("raw_path")
    path = raw.split(b"?", 1)[0].decode("latin-1") if raw else request.url.path
    url = f"{base_url(request)}{path}?{urlencode(items)}"
    return f'<{url}>; rel="next"'


def repo_url(request: Request, repo_type: str, full: str) -> str:
    return f"{base_url(request)}/{web_path(repo_type, full)}"
