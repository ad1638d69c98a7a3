"""Who may do what to a repository: one place, used by every front door.

Two things decide it. The caller's role on the repository: the highest of their own account (owner),
their organisation role and any resource group of that organisation that holds the repository. And
what their credential allows there: a classic token is `read` or `write` everywhere; a fine-grained
token carries a scope (haven.auth.scopes) and counts as having no access outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from haven.auth.scopes import DISCUSSION_WRITE, ORG_WRITE, REPO_MANAGE, REPO_READ, REPO_WRITE, TokenScope


class Permission(StrEnum):
    READ = "repo:read"
    CONTRIBUTE = "repo:contribute"  # open discussions and pull requests, push to refs/pr/N
    WRITE = "repo:write"
    ADMIN = "repo:admin"


ROLES = ("read", "contributor", "write", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
NEEDED_RANK = {
    Permission.READ: ROLE_RANK["read"],
    Permission.CONTRIBUTE: ROLE_RANK["contributor"],
    Permission.WRITE: ROLE_RANK["write"],
    Permission.ADMIN: ROLE_RANK["admin"],
}
# What a fine-grained token must hold on a repository for each permission (any one of them).
TOKEN_GRANTS = {
    Permission.READ: (REPO_READ, REPO_WRITE, REPO_MANAGE, DISCUSSION_WRITE),
    Permission.CONTRIBUTE: (DISCUSSION_WRITE, REPO_WRITE),
    Permission.WRITE: (REPO_WRITE,),
    Permission.ADMIN: (REPO_MANAGE,),
}


class RepoLike(Protocol):
    """What the rules need to know about a repository (a Repo row satisfies it)."""

    id: int
    owner_id: int
    private: bool


@dataclass(frozen=True)
class Actor:
    """The caller of a request. `user_id` None is an anonymous caller."""

    user_id: int | None = None
    name: str | None = None
    is_admin: bool = False
    token_role: str = "write"  # what a classic credential allows: read | write | fineGrained
    token_name: str | None = None
    org_roles: dict[int, str] = field(default_factory=dict)  # org account id -> role
    org_names: dict[int, str] = field(default_factory=dict)
    repo_roles: dict[int, str] = field(default_factory=dict)  # repo id -> role from resource groups
    scope: TokenScope | None = None  # a fine-grained token's scope; None for classic tokens and web sessions
    # False for anonymous callers of a hub whose mirrored repositories are for signed-in callers only
    # (mirror_require_login): listings leave those out for them (haven.repos.listing.visible).
    sees_mirrors: bool = True

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    @property
    def fine_grained(self) -> bool:
        return self.scope is not None

    def role_in(self, owner_id: int) -> int:
        """Rank of the actor's role over every repository owned by `owner_id` (0: none)."""
        if self.user_id is None:
            return 0
        if self.is_admin or owner_id == self.user_id:
            return ROLE_RANK["admin"]
        return ROLE_RANK.get(self.org_roles.get(owner_id, ""), 0)

    def rank_on(self, repo: RepoLike) -> int:
        """Rank of the actor's role on one repository: account role or resource group role, the higher."""
        return max(self.role_in(repo.owner_id), ROLE_RANK.get(self.repo_roles.get(repo.id, ""), 0))

    def has_role_on(self, repo: RepoLike) -> bool:
        """A role on the repository that this credential may use (what lets members past a gate)."""
        return self.rank_on(repo) > 0 and self.token_allows(Permission.READ, repo)

    def token_allows(self, permission: Permission, repo: RepoLike) -> bool:
        """Whether the credential (not the person) may be used for `permission` on `repo`."""
        if self.scope is not None:
            return self.scope.grants_any(TOKEN_GRANTS[permission], repo_id=repo.id, owner_id=repo.owner_id)
        return permission is Permission.READ or self.token_role == "write"

    def visibility_key(self) -> tuple[object, ...]:
        """Everything that decides which repositories this actor sees (for caches of listings)."""
        return (
            self.sees_mirrors,
            self.is_admin,
            self.user_id,
            tuple(sorted(self.org_roles)),
            tuple(sorted(self.repo_roles)),
            self.scope.key() if self.scope is not None else None,
        )


ANONYMOUS = Actor()
ANONYMOUS_WITHOUT_MIRRORS = Actor(sees_mirrors=False)


def anonymous(mirrors_need_login: bool) -> Actor:
    """The actor of a request without credentials (mirrors_need_login: the `mirror_require_login` setting)."""
    return ANONYMOUS_WITHOUT_MIRRORS if mirrors_need_login else ANONYMOUS


def can(actor: Actor, permission: Permission, repo: RepoLike) -> bool:
    """Whether `actor` holds `permission` on `repo`.

    Public repositories are readable by anyone, and anyone signed in may open discussions and pull
    requests on them (with a credential allowed to); everything else needs a role on the repository."""
    if permission is Permission.READ and not repo.private:
        return True
    if actor.anonymous or not actor.token_allows(permission, repo):
        return False
    if permission is Permission.CONTRIBUTE and not repo.private:
        return True
    return actor.rank_on(repo) >= NEEDED_RANK[permission]


def can_create_in(actor: Actor, owner_id: int) -> bool:
    """Creating (or moving a repository) under an account: a writer there, with a credential that may."""
    if actor.scope is not None:
        if not actor.scope.grants_any((REPO_MANAGE,), repo_id=None, owner_id=owner_id):
            return False
    elif actor.token_role != "write":
        return False
    return actor.role_in(owner_id) >= ROLE_RANK["write"]


def manages_org(actor: Actor, org_id: int) -> bool:
    """Changing an organisation (members, resource groups): its admins and site admins, with a credential
    that may (a write token, or a fine-grained one holding org.write on it)."""
    if actor.anonymous or actor.role_in(org_id) < ROLE_RANK["admin"]:
        return False
    if actor.scope is not None:
        return actor.scope.grants_any((ORG_WRITE,), repo_id=None, owner_id=org_id)
    return actor.token_role == "write"
