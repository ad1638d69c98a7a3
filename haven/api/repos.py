"""Repository management and metadata: whoami, create/delete/move/settings, repo info, likes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from haven.api.common import full_id, lookup, repo_url, resolve_rev, truthy
from haven.api.deps import ActorDep, HubDep
from haven.api.format import iso, repo_summary
from haven.api.responses import JSON
from haven.auth import tokens
from haven.auth.models import Account, Membership
from haven.auth.permissions import Actor, Permission
from haven.errors import BadRequest, NotFound, Unauthorized
from haven.hub import Hub
from haven.metadata import service as metadata
from haven.mirror import service as mirror
from haven.names import check_revision
from haven.repos import service
from haven.repos.card import CardError, derive, parse_card
from haven.repos.library import scan
from haven.repos.listing import visible
from haven.repos.models import Like, Repo
from haven.scanning import service as scanning

router = APIRouter()


@router.get("/api/health")
def health() -> JSON:
    return JSON({"status": "ok"})


@router.get("/api/agent-harnesses")
def agent_harnesses() -> JSON:
    """Asked once a day by huggingface_hub; Haven has none to announce."""
    return JSON({"standardEnvVars": [], "harnesses": {}})


@router.get("/api/whoami-v2")
def whoami(hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.whoami and `hf auth login/whoami`."""
    if actor.anonymous:
        raise Unauthorized("Invalid credentials in Authorization header")
    with hub.db.read() as session:
        user = session.get(Account, actor.user_id)
        assert user is not None
        orgs = session.execute(
            select(Account.name, Membership.role)
            .join(Membership, Membership.org_id == Account.id)
            .where(Membership.user_id == user.id)
        ).all()
        access_token: dict[str, Any] = {"displayName": actor.token_name, "role": actor.token_role}
        if actor.scope is not None:
            access_token["fineGrained"] = tokens.describe_scope(session, actor.scope)
    return JSON(
        {
            "type": "user",
            "id": f"{user.id:024x}",
            "name": user.name,
            "fullname": user.fullname or user.name,
            "email": user.email,
            "isPro": False,
            "canPay": False,
            "isAdmin": user.is_admin,
            "avatarUrl": None,
            "orgs": [{"type": "org", "name": o.name, "fullname": o.name, "roleInOrg": o.role} for o in orgs],
            "auth": {
                "type": "access_token",
                "accessToken": access_token,
            },
        }
    )


class CreateRepoBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=200)
    organization: str | None = None
    type: str = "model"
    private: bool | None = None
    visibility: str | None = None
    sdk: str | None = None


@router.post("/api/repos/create")
def create_repo(body: CreateRepoBody, request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.create_repo (409 carries `url`, so exist_ok works)."""
    name, namespace = body.name, body.organization
    if "/" in name:
        if namespace is not None:
            raise BadRequest("Give the namespace either in name or in organization, not both")
        namespace, _, name = name.partition("/")
    private = body.private if body.private is not None else body.visibility == "private"
    row = service.create_repo(
        hub, actor, repo_type=body.type, namespace=namespace, name=name, private=private, sdk=body.sdk
    )
    return JSON({"url": repo_url(request, row.type, row.full_id), "name": row.full_id, "id": f"{row.id:024x}"})


class RepoIdBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    organization: str | None = None
    type: str | None = "model"


@router.delete("/api/repos/delete")
def delete_repo(body: RepoIdBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.delete_repo."""
    repo_id = body.name if "/" in body.name else f"{body.organization or actor.name}/{body.name}"
    service.delete_repo(hub, actor, body.type or "model", repo_id)
    return JSON({})


class MoveBody(BaseModel):
    fromRepo: str
    toRepo: str
    type: str = "model"


@router.post("/api/repos/move")
def move_repo(body: MoveBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.move_repo."""
    service.move_repo(hub, actor, body.type, body.fromRepo, body.toRepo)
    return JSON({})


class SettingsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    private: bool | None = None
    visibility: str | None = None
    gated: str | bool | None = None


@router.put("/api/{repo_type:rtype}/{namespace}/{name}/settings")
def update_settings(
    repo_type: str, namespace: str, name: str, body: SettingsBody, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves HfApi.update_repo_settings."""
    private = body.private
    if body.visibility is not None:
        if body.visibility not in ("public", "private"):
            raise BadRequest("visibility must be 'public' or 'private'")
        private = body.visibility == "private"
    service.update_settings(hub, actor, repo_type, full_id(namespace, name), private=private, gated=body.gated)
    return JSON({})


@router.get("/api/{repo_type:rtype}/{namespace}/{name}")
def repo_info(repo_type: str, namespace: str, name: str, request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves model_info / dataset_info / space_info / repo_exists / resolve_revision."""
    return _info(repo_type, namespace, name, "main", request, hub, actor, default=True)


@router.get("/api/{repo_type:rtype}/{namespace}/{name}/revision/{revision:seg}")
def repo_info_at(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves repo_info(revision=...), revision_exists and snapshot_download's first call."""
    return _info(repo_type, namespace, name, revision, request, hub, actor, default=False)


def _info(
    repo_type: str,
    namespace: str,
    name: str,
    revision: str,
    request: Request,
    hub: HubDep,
    actor: ActorDep,
    default: bool,
) -> JSON:
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    check_revision(revision)
    sha = resolve_rev(ref, revision)
    params = request.query_params
    expand = params.getlist("expand") + params.getlist("expand[]")
    blobs = truthy(params.get("blobs"))
    info = repo_summary(ref.row)
    info["sha"] = sha
    info["cardData"] = ref.row.card_data or {}
    if ref.row.card_error:
        info["cardError"] = ref.row.card_error
    if sha != ref.row.head_sha:
        _card_at(info, ref, sha)
    info["usedStorage"] = ref.row.used_storage
    upstream = mirror.upstream_of(hub, ref.row.id)
    if upstream is not None:  # a Haven extension: a read-only copy of this upstream repository
        info["mirror"] = {"upstream": upstream}
    info["siblings"] = siblings(ref, sha, blobs)
    if repo_type == "model":
        info["spaces"] = []
        _card_extras(info)
    info.update(metadata.info_fields(metadata.stored(hub, ref.row.id), repo_type, sha))
    if truthy(params.get("securityStatus")) or "securityRepoStatus" in expand:
        info["securityRepoStatus"] = scanning.repo_status(hub, ref.row.id, ref.row.head_sha)
    if expand:
        keep = set(expand) | {"id", "_id"}
        if "downloadsAllTime" in keep:
            keep.add("downloadsAllTime")
        info = {k: v for k, v in info.items() if k in keep}
    return JSON(info)


def _card_at(info: dict[str, Any], ref: service.RepoRef, sha: str) -> None:
    """Card-derived fields as of `sha`; the stored ones describe the head of main."""
    entry = ref.git.entry(sha, "README.md")
    card: dict[str, Any] = {}
    info.pop("cardError", None)
    if entry is not None and entry.type == "file" and entry.pointer is None:
        try:
            card = parse_card(ref.git.read_blob(entry.oid).decode("utf-8", "replace"))
        except CardError as e:
            info["cardError"] = str(e)
    tags, library, pipeline = derive(card, ref.type, scan(ref.git, sha))
    info["cardData"], info["tags"] = card, tags
    if ref.type == "model":
        for key, value in (("library_name", library), ("pipeline_tag", pipeline)):
            if value:
                info[key] = value
            else:
                info.pop(key, None)


def _card_extras(info: dict[str, Any]) -> None:
    """model_info's `model-index` and `widgetData`: the card's evaluation results and widget examples."""
    card = info.get("cardData") or {}
    if isinstance(card.get("model-index"), list):
        info["model-index"] = card["model-index"]
    if isinstance(card.get("widget"), list):
        info["widgetData"] = card["widget"]


def siblings(ref: service.RepoRef, sha: str, blobs: bool) -> list[dict[str, Any]]:
    out = []
    for entry in ref.git.list_tree(sha, recursive=True):
        if entry.type != "file":
            continue
        item: dict[str, Any] = {"rfilename": entry.path}
        if blobs:
            item["size"] = entry.size
            item["blobId"] = entry.oid
            if entry.pointer is not None:
                item["lfs"] = {
                    "sha256": entry.pointer.oid,
                    "size": entry.pointer.size,
                    "pointerSize": entry.pointer_size,
                }
        out.append(item)
    return out


@router.delete("/api/{repo_type:rtype}/{namespace}/{name}/like")
def unlike(repo_type: str, namespace: str, name: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.unlike."""
    service.set_like(hub, actor, repo_type, full_id(namespace, name), False)
    return JSON({})


@router.post("/api/{repo_type:rtype}/{namespace}/{name}/like")
def like(repo_type: str, namespace: str, name: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Liking (the web UI's button; the Python client has no like())."""
    service.set_like(hub, actor, repo_type, full_id(namespace, name), True)
    return JSON({})


@router.get("/api/{repo_type:rtype}/{namespace}/{name}/likers")
def likers(
    repo_type: str, namespace: str, name: str, hub: HubDep, actor: ActorDep, limit: int = Query(1000, ge=1, le=1000)
) -> JSON:
    """Serves HfApi.list_repo_likers."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    with hub.db.read() as session:
        rows = session.execute(
            select(Account.name, Account.fullname)
            .join(Like, Like.user_id == Account.id)
            .where(Like.repo_id == ref.row.id)
            .order_by(Like.created_at.desc())
            .limit(limit)
        ).all()
    return JSON([{"user": r.name, "fullname": r.fullname or r.name, "avatarUrl": None, "type": "user"} for r in rows])


@router.get("/api/users/{user}/likes")
def user_likes(user: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.list_liked_repos; private repos appear only to those who may see them."""
    with hub.db.read() as session:
        rows = session.execute(
            select(Repo, Like.created_at)
            .join(Like, Like.repo_id == Repo.id)
            .join(Account, Account.id == Like.user_id)
            .where(Account.name == user, visible(actor))
            .order_by(Like.created_at.desc())
        ).all()
    return JSON([{"createdAt": iso(at), "repo": {"name": r.full_id, "type": r.type}} for r, at in rows])


@router.get("/api/{repo_type:rtype}/{namespace}/{name}/auth-check")
def auth_check(repo_type: str, namespace: str, name: str, hub: HubDep, actor: ActorDep) -> JSON:
    lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    return JSON({})


@router.get("/api/{repo_type:rtype}/{namespace}/{name}/auth-check/write")
def auth_check_write(repo_type: str, namespace: str, name: str, hub: HubDep, actor: ActorDep) -> JSON:
    lookup(hub, actor, repo_type, namespace, name, Permission.WRITE)
    return JSON({})


@router.get("/api/settings/repositories")
def my_repositories(hub: HubDep, actor: ActorDep) -> JSON:
    """Serves `hf repos ls`: the caller's own repositories with visibility and storage."""
    return _owned_repositories(hub, actor, actor.name)


@router.get("/api/organizations/{org}/settings/repositories")
def org_repositories(org: str, hub: HubDep, actor: ActorDep) -> JSON:
    """The same listing for an organisation the caller belongs to."""
    return _owned_repositories(hub, actor, org)


def _owned_repositories(hub: Hub, actor: Actor, namespace: str | None) -> JSON:
    if actor.anonymous or namespace is None:
        raise Unauthorized("Invalid credentials in Authorization header")
    with hub.db.read() as session:
        owner = session.scalar(select(Account).where(Account.name == namespace))
        if owner is None or actor.role_in(owner.id) == 0:
            raise NotFound(f"No organisation named {namespace!r}")
        mine = select(Repo).where(Repo.owner_id == owner.id, visible(actor))  # a scoped token sees its scope
        rows = session.scalars(mine.order_by(Repo.last_modified.desc()))
        return JSON(
            [
                {
                    "id": r.full_id,
                    "type": r.type,
                    "updatedAt": iso(r.last_modified),
                    "visibility": "private" if r.private else "public",
                    "storage": r.used_storage,
                }
                for r in rows
            ]
        )
