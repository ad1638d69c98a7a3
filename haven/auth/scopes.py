"""Fine-grained token scopes: which permissions a token holds on which repositories and namespaces.

Permission names follow the Hugging Face Hub's. A scope entry names an entity by id (a repository, or
a user or organisation whose repositories it covers), so a renamed or moved repository keeps its
token access the way it does on the Hub; `global` permissions hold everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from haven.errors import BadRequest

REPO_READ = "repo.content.read"  # read files of private repositories in scope
REPO_WRITE = "repo.write"  # commit, create and delete branches and tags, decide access requests
DISCUSSION_WRITE = "discussion.write"  # open and take part in discussions and pull requests
REPO_MANAGE = "repo.manage"  # create, delete, move repositories; change their settings
ORG_WRITE = "org.write"  # manage an organisation's members and resource groups
PERMISSIONS = (REPO_READ, REPO_WRITE, DISCUSSION_WRITE, REPO_MANAGE, ORG_WRITE)
REPO_KINDS = ("model", "dataset", "space")
ACCOUNT_KINDS = ("user", "org")


@dataclass(frozen=True)
class ScopeEntry:
    kind: str  # model | dataset | space (one repository) or user | org (every repository of the account)
    entity_id: int
    permissions: frozenset[str]

    @property
    def is_repo(self) -> bool:
        return self.kind in REPO_KINDS


@dataclass(frozen=True)
class TokenScope:
    entries: tuple[ScopeEntry, ...] = ()
    global_permissions: frozenset[str] = frozenset()

    def grants_any(self, wanted: Iterable[str], *, repo_id: int | None, owner_id: int) -> bool:
        """Whether one of `wanted` is granted on a repository (`repo_id`) of `owner_id`, or on the
        namespace itself when `repo_id` is None."""
        held = set(self.global_permissions)
        for e in self.entries:
            if (e.is_repo and e.entity_id == repo_id) or (not e.is_repo and e.entity_id == owner_id):
                held |= e.permissions
        return any(w in held for w in wanted)

    def readable_repo_ids(self) -> list[int]:
        return [e.entity_id for e in self.entries if e.is_repo and _reads(e.permissions)]

    def readable_owner_ids(self) -> list[int]:
        return [e.entity_id for e in self.entries if not e.is_repo and _reads(e.permissions)]

    def reads_everywhere(self) -> bool:
        return _reads(self.global_permissions)

    def key(self) -> tuple[object, ...]:
        return (self.entries, self.global_permissions)

    def to_json(self) -> dict[str, Any]:
        return {
            "global": sorted(self.global_permissions),
            "scoped": [{"type": e.kind, "id": e.entity_id, "permissions": sorted(e.permissions)} for e in self.entries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenScope:
        entries = tuple(
            ScopeEntry(str(e["type"]), int(e["id"]), frozenset(e["permissions"])) for e in data.get("scoped", [])
        )
        return cls(entries, frozenset(data.get("global", [])))


def _reads(permissions: Iterable[str]) -> bool:
    from haven.auth.permissions import TOKEN_GRANTS, Permission

    return any(p in TOKEN_GRANTS[Permission.READ] for p in permissions)


def check_permissions(permissions: Iterable[str]) -> frozenset[str]:
    perms = frozenset(p.strip() for p in permissions if p.strip())
    unknown = sorted(perms - set(PERMISSIONS))
    if unknown:
        raise BadRequest(f"Unknown token permission(s) {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}")
    if not perms:
        raise BadRequest("A scope entry needs at least one permission")
    return perms


@dataclass(frozen=True)
class ScopeRequest:
    """A scope entry as a person writes it: by kind and name, before names are resolved to ids."""

    kind: str  # model | dataset | space | user | org | global
    name: str
    permissions: frozenset[str]


def parse_scope(text: str) -> ScopeRequest:
    """`model:alice/bert=repo.content.read,repo.write`, `org:acme=repo.content.read` or
    `global=discussion.write` (the CLI and web form syntax)."""
    target, sep, perms = text.partition("=")
    if not sep:
        raise BadRequest(f"Invalid scope {text!r}: expected KIND:NAME=PERMISSION[,PERMISSION...]")
    target = target.strip()
    if target == "global":
        return ScopeRequest("global", "", check_permissions(perms.split(",")))
    kind, sep, name = target.partition(":")
    if not sep or kind not in (*REPO_KINDS, *ACCOUNT_KINDS) or not name:
        raise BadRequest(
            f"Invalid scope target {target!r}: expected model:, dataset:, space:, user: or org: and a name"
        )
    return ScopeRequest(kind, name, check_permissions(perms.split(",")))
