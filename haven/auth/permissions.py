"""Who may do what to a repository: one place, used by every front door."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    READ = "repo:read"
    WRITE = "repo:write"
    ADMIN = "repo:admin"


ROLE_RANK = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Actor:
    """The caller of a request. `user_id` None is an anonymous caller."""

    user_id: int | None = None
    name: str | None = None
    is_admin: bool = False
    token_role: str = "write"  # what the credential allows: read | write
    token_name: str | None = None
    org_roles: dict[int, str] = field(default_factory=dict)  # org account id -> role
    org_names: dict[int, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    def role_in(self, owner_id: int) -> int:
        """Rank of the actor's role over repositories owned by `owner_id` (0: none)."""
        if self.user_id is None:
            return 0
        if self.is_admin or owner_id == self.user_id:
            return ROLE_RANK["admin"]
        return ROLE_RANK.get(self.org_roles.get(owner_id, ""), 0)


ANONYMOUS = Actor()


def can(actor: Actor, permission: Permission, *, owner_id: int, private: bool) -> bool:
    """Whether `actor` holds `permission` on a repository of `owner_id` with this visibility."""
    rank = actor.role_in(owner_id)
    if permission is Permission.READ:
        return not private or rank >= ROLE_RANK["read"]
    if actor.token_role != "write":
        return False
    needed = ROLE_RANK["write"] if permission is Permission.WRITE else ROLE_RANK["admin"]
    return rank >= needed


def can_create_in(actor: Actor, owner_id: int) -> bool:
    return actor.token_role == "write" and actor.role_in(owner_id) >= ROLE_RANK["write"]
