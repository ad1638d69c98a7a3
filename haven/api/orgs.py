"""Organisations' resource groups (/api/organizations/{org}/resource-groups): org admins only.
Thin: the rules are in haven.orgs.service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from haven.api.deps import ActorDep, HubDep
from haven.api.format import iso
from haven.api.responses import JSON
from haven.orgs import service
from haven.orgs.service import GroupView

router = APIRouter()
BASE = "/api/organizations/{org}/resource-groups"


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=service.MAX_NAME)
    description: str | None = Field(None, max_length=service.MAX_DESCRIPTION)


class GroupUser(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user: str = Field(max_length=96)
    role: str = Field(max_length=16)


class UsersBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    users: list[GroupUser] = Field(max_length=1000)


class RepoBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = Field("model", max_length=16)
    name: str = Field(max_length=200)


def as_json(g: GroupView) -> dict[str, Any]:
    return {
        "name": g.name,
        "description": g.description,
        "createdAt": iso(g.created_at),
        "users": [{"user": user, "role": role} for user, role in g.members],
        "repos": [{"type": t, "name": name} for t, name in g.repos],
    }


@router.get(BASE)
def list_groups(org: str, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.read() as session:
        return JSON([as_json(g) for g in service.list_groups(session, actor, org)])


@router.post(BASE)
def create_group(org: str, body: GroupBody, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.write() as session:
        return JSON(as_json(service.create_group(session, actor, org, body.name, body.description)))


@router.get(BASE + "/{group}")
def get_group(org: str, group: str, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.read() as session:
        return JSON(as_json(service.get_group(session, actor, org, group)))


@router.delete(BASE + "/{group}")
def delete_group(org: str, group: str, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.write() as session:
        service.delete_group(session, actor, org, group)
    return JSON({})


@router.post(BASE + "/{group}/users")
def add_users(org: str, group: str, body: UsersBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Add users with a role each (or change their roles); all or nothing."""
    with hub.db.write() as session:
        for u in body.users:
            service.set_group_member(session, actor, org, group, u.user, u.role)
        return JSON(as_json(service.get_group(session, actor, org, group)))


@router.delete(BASE + "/{group}/users/{user}")
def remove_user(org: str, group: str, user: str, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.write() as session:
        service.remove_group_member(session, actor, org, group, user)
    return JSON({})


@router.post(BASE + "/{group}/repos")
def add_repo(org: str, group: str, body: RepoBody, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.write() as session:
        service.add_group_repo(session, actor, org, group, body.type, body.name)
        return JSON(as_json(service.get_group(session, actor, org, group)))


@router.delete(BASE + "/{group}/repos/{repo_type}/{namespace}/{name}")
def remove_repo(org: str, group: str, repo_type: str, namespace: str, name: str, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.write() as session:
        service.remove_group_repo(session, actor, org, group, repo_type, f"{namespace}/{name}")
    return JSON({})
