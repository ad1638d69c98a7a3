"""Managing an organisation's resource groups: only its admins (and site admins) may, and every change
goes to the audit log. A group's members hold its role on its repositories on top of their org role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haven.audit import service as audit
from haven.auth.models import ORG, USER, Account
from haven.auth.permissions import ROLES, Actor, manages_org
from haven.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from haven.names import REPO_TYPES
from haven.orgs.models import ResourceGroup, ResourceGroupMember, ResourceGroupRepo
from haven.repos.models import Repo

MAX_NAME = 96
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class GroupView:
    name: str
    description: str | None
    created_at: datetime
    members: list[tuple[str, str]] = field(default_factory=list)  # (user, role)
    repos: list[tuple[str, str]] = field(default_factory=list)  # (type, full id)


def managed_org(session: Session, actor: Actor, org_name: str) -> Account:
    """The organisation, if `actor` may manage it. Non-members get the 404 a missing one gets."""
    if actor.anonymous:
        raise Unauthorized("Invalid credentials in Authorization header")
    org = session.scalar(select(Account).where(Account.name == org_name, Account.kind == ORG))
    if org is None or (actor.role_in(org.id) == 0 and not actor.is_admin):
        raise NotFound(f"No organisation named {org_name!r}")
    if not manages_org(actor, org.id):
        raise Forbidden(f"Only admins of {org_name} (with a token that may manage it) can change its resource groups")
    return org


def list_groups(session: Session, actor: Actor, org_name: str) -> list[GroupView]:
    org = managed_org(session, actor, org_name)
    groups = session.scalars(select(ResourceGroup).where(ResourceGroup.org_id == org.id).order_by(ResourceGroup.name))
    return [_view(session, g) for g in groups]


def get_group(session: Session, actor: Actor, org_name: str, name: str) -> GroupView:
    return _view(session, _group(session, managed_org(session, actor, org_name), name))


def create_group(session: Session, actor: Actor, org_name: str, name: str, description: str | None = None) -> GroupView:
    org = managed_org(session, actor, org_name)
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise BadRequest(f"A resource group's name must be 1 to {MAX_NAME} characters")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise BadRequest(f"The description must be at most {MAX_DESCRIPTION} characters")
    if session.scalar(select(ResourceGroup.id).where(ResourceGroup.org_id == org.id, ResourceGroup.name == name)):
        raise Conflict(f"{org.name} already has a resource group named {name!r}")
    group = ResourceGroup(org_id=org.id, name=name, description=description or None)
    session.add(group)
    session.flush()
    audit.record(session, "org.group_create", actor=actor, target=f"{org.name}/{name}")
    return _view(session, group)


def delete_group(session: Session, actor: Actor, org_name: str, name: str) -> None:
    org = managed_org(session, actor, org_name)
    group = _group(session, org, name)
    session.execute(delete(ResourceGroupMember).where(ResourceGroupMember.group_id == group.id))
    session.execute(delete(ResourceGroupRepo).where(ResourceGroupRepo.group_id == group.id))
    session.delete(group)
    audit.record(session, "org.group_delete", actor=actor, target=f"{org.name}/{name}")


def set_group_member(session: Session, actor: Actor, org_name: str, name: str, user_name: str, role: str) -> None:
    """Add a user to the group with `role` (or change their role there)."""
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    org = managed_org(session, actor, org_name)
    group = _group(session, org, name)
    user = session.scalar(select(Account).where(Account.name == user_name, Account.kind == USER))
    if user is None:
        raise NotFound(f"No user named {user_name!r}")
    member = session.get(ResourceGroupMember, (group.id, user.id))
    before = member.role if member is not None else None
    if member is None:
        session.add(ResourceGroupMember(group_id=group.id, user_id=user.id, role=role))
    else:
        member.role = role
    if before != role:
        target = f"{org.name}/{name}/{user.name}"
        audit.record(session, "org.group_member_set", actor=actor, target=target, role=role, before=before)


def remove_group_member(session: Session, actor: Actor, org_name: str, name: str, user_name: str) -> None:
    org = managed_org(session, actor, org_name)
    group = _group(session, org, name)
    user = session.scalar(select(Account).where(Account.name == user_name, Account.kind == USER))
    member = session.get(ResourceGroupMember, (group.id, user.id)) if user is not None else None
    if member is None:
        raise NotFound(f"{user_name} is not in the resource group {name!r}")
    session.delete(member)
    audit.record(session, "org.group_member_remove", actor=actor, target=f"{org.name}/{name}/{user_name}")


def add_group_repo(session: Session, actor: Actor, org_name: str, name: str, repo_type: str, full_id: str) -> None:
    """Put one of the organisation's repositories in the group."""
    org = managed_org(session, actor, org_name)
    group = _group(session, org, name)
    repo = _org_repo(session, org, repo_type, full_id)
    if session.get(ResourceGroupRepo, (group.id, repo.id)) is None:
        session.add(ResourceGroupRepo(group_id=group.id, repo_id=repo.id))
        audit.record(
            session, "org.group_repo_add", actor=actor, target=f"{org.name}/{name}", repo=f"{repo_type}:{full_id}"
        )


def remove_group_repo(session: Session, actor: Actor, org_name: str, name: str, repo_type: str, full_id: str) -> None:
    org = managed_org(session, actor, org_name)
    group = _group(session, org, name)
    repo = _org_repo(session, org, repo_type, full_id)
    link = session.get(ResourceGroupRepo, (group.id, repo.id))
    if link is None:
        raise NotFound(f"{repo_type}:{full_id} is not in the resource group {name!r}")
    session.delete(link)
    audit.record(
        session, "org.group_repo_remove", actor=actor, target=f"{org.name}/{name}", repo=f"{repo_type}:{full_id}"
    )


def _group(session: Session, org: Account, name: str) -> ResourceGroup:
    group = session.scalar(select(ResourceGroup).where(ResourceGroup.org_id == org.id, ResourceGroup.name == name))
    if group is None:
        raise NotFound(f"{org.name} has no resource group named {name!r}")
    return group


def _org_repo(session: Session, org: Account, repo_type: str, full_id: str) -> Repo:
    if repo_type not in REPO_TYPES:
        raise BadRequest(f"Invalid repo type {repo_type!r}")
    repo = session.scalar(select(Repo).where(Repo.type == repo_type, Repo.full_id == full_id))
    if repo is None or repo.owner_id != org.id:
        raise NotFound(f"{org.name} has no {repo_type} named {full_id!r}")
    return repo


def _view(session: Session, group: ResourceGroup) -> GroupView:
    members = session.execute(
        select(Account.name, ResourceGroupMember.role)
        .join(ResourceGroupMember, ResourceGroupMember.user_id == Account.id)
        .where(ResourceGroupMember.group_id == group.id)
        .order_by(Account.name)
    ).all()
    repos = session.execute(
        select(Repo.type, Repo.full_id)
        .join(ResourceGroupRepo, ResourceGroupRepo.repo_id == Repo.id)
        .where(ResourceGroupRepo.group_id == group.id, Repo.owner_id == group.org_id)
        .order_by(Repo.type, Repo.full_id)
    ).all()
    return GroupView(
        group.name, group.description, group.created_at, [tuple(m) for m in members], [tuple(r) for r in repos]
    )
