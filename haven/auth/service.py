"""Accounts, organisations, tokens and passwords; turning a credential into an Actor."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from haven.audit import service as audit
from haven.auth.models import ORG, USER, Account, Membership, Token
from haven.auth.permissions import ANONYMOUS, ROLE_RANK, ROLES, Actor
from haven.auth.scopes import TokenScope
from haven.db import Database, utcnow
from haven.errors import BadRequest, Conflict, InvalidToken, NotFound, TokenExpired
from haven.names import check_namespace
from haven.orgs.models import ResourceGroup, ResourceGroupMember, ResourceGroupRepo
from haven.repos.models import Repo
from haven.ttlcache import TTLCache

TOKEN_PREFIX = "hv_"
FINE_GRAINED = "fineGrained"
TOUCH_EVERY = 60.0  # seconds between two writes of one token's last_used_at


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    actual = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(actual.hex(), digest)


def get_account(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name == name))


def create_user(
    session: Session, name: str, *, email: str | None = None, password: str | None = None, admin: bool = False
) -> Account:
    check_namespace(name)
    if get_account(session, name) is not None:
        raise Conflict(f"The name {name!r} is already taken")
    user = Account(
        name=name,
        kind=USER,
        email=email,
        password_hash=hash_password(password) if password else None,
        is_admin=admin,
    )
    session.add(user)
    session.flush()
    return user


def create_org(session: Session, name: str, owner: str) -> Account:
    check_namespace(name)
    owner_account = _user(session, owner)
    if get_account(session, name) is not None:
        raise Conflict(f"The name {name!r} is already taken")
    org = Account(name=name, kind=ORG)
    session.add(org)
    session.flush()
    session.add(Membership(org_id=org.id, user_id=owner_account.id, role="admin"))
    return org


def set_member(session: Session, org_name: str, user_name: str, role: str, *, by: Actor | None = None) -> None:
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    org = get_account(session, org_name)
    if org is None or org.kind != ORG:
        raise NotFound(f"No organisation named {org_name!r}")
    user = _user(session, user_name)
    member = session.get(Membership, (org.id, user.id))
    before = member.role if member is not None else None
    if member is None:
        session.add(Membership(org_id=org.id, user_id=user.id, role=role))
    else:
        if member.role == "admin" and role != "admin":
            _keep_an_admin(session, org.id)
        member.role = role
    if before != role:
        audit.record(session, "org.member_set", actor=by, target=f"{org.name}/{user.name}", role=role, before=before)


def create_token(
    session: Session,
    user_name: str,
    name: str = "default",
    role: str = "write",
    *,
    scope: TokenScope | None = None,
    expires_at: datetime | None = None,
    by: Actor | None = None,
) -> str:
    """Issue a token; only its hash is stored, so the caller must show it now. A `scope` makes it
    fine-grained (role fineGrained), whatever `role` says."""
    if scope is None and role not in ("read", "write"):
        raise BadRequest("token role must be read or write")
    if expires_at is not None and expires_at <= utcnow():
        raise BadRequest("A token's expiry must be in the future")
    user = _user(session, user_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(30)
    role = FINE_GRAINED if scope is not None else role
    session.add(
        Token(
            user_id=user.id,
            name=name,
            role=role,
            token_hash=hash_token(token),
            scopes=scope.to_json() if scope is not None else None,
            expires_at=expires_at,
        )
    )
    detail: dict[str, object] = {"token": name, "role": role}
    if scope is not None:
        detail["scopes"] = scope.to_json()
    if expires_at is not None:
        detail["expires_at"] = expires_at.isoformat()
    if by is not None and by.user_id != user.id:
        audit.record(session, "token.create", actor=by, target=user.name, **detail)
    else:
        audit.record(session, "token.create", actor_name=user.name, actor_id=user.id, target=user.name, **detail)
    return token


def revoke_token(session: Session, token: str) -> bool:
    row = session.scalar(select(Token).where(Token.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    _audit_revoke(session, row)
    return True


def _audit_revoke(session: Session, row: Token, by: Actor | None = None) -> None:
    owner = session.get(Account, row.user_id)
    name = owner.name if owner is not None else None
    if by is not None and by.user_id != row.user_id:
        audit.record(session, "token.revoke", actor=by, target=name or "", token=row.name)
        return
    audit.record(session, "token.revoke", actor_name=name, actor_id=row.user_id, target=name or "", token=row.name)


def _user(session: Session, name: str) -> Account:
    user = get_account(session, name)
    if user is None or user.kind != USER:
        raise NotFound(f"No user named {name!r}")
    return user


def load_actor(
    session: Session, user: Account, token_role: str, token_name: str | None, scope: TokenScope | None = None
) -> Actor:
    rows = session.execute(
        select(Membership.org_id, Membership.role, Account.name)
        .join(Account, Account.id == Membership.org_id)
        .where(Membership.user_id == user.id)
    ).all()
    return Actor(
        user_id=user.id,
        name=user.name,
        is_admin=user.is_admin,
        token_role=token_role,
        token_name=token_name,
        org_roles={r.org_id: r.role for r in rows},
        org_names={r.org_id: r.name for r in rows},
        repo_roles=group_roles(session, user.id),
        scope=scope,
    )


def group_roles(session: Session, user_id: int) -> dict[int, str]:
    """Repository id -> the highest role the user's resource groups give there. Only repositories the
    group's organisation still owns count (a repository moved away leaves the group's reach)."""
    rows = session.execute(
        select(ResourceGroupRepo.repo_id, ResourceGroupMember.role)
        .join(ResourceGroupMember, ResourceGroupMember.group_id == ResourceGroupRepo.group_id)
        .join(ResourceGroup, ResourceGroup.id == ResourceGroupRepo.group_id)
        .join(Repo, Repo.id == ResourceGroupRepo.repo_id)
        .where(ResourceGroupMember.user_id == user_id, Repo.owner_id == ResourceGroup.org_id)
    ).all()
    roles: dict[int, str] = {}
    for repo_id, role in rows:
        if ROLE_RANK.get(role, 0) > ROLE_RANK.get(roles.get(repo_id, ""), 0):
            roles[repo_id] = role
    return roles


@dataclass(frozen=True)
class _Resolved:
    actor: Actor
    token_id: int
    expires_at: datetime | None


log = logging.getLogger("haven.auth")
REFRESH_AFTER = 0.5  # share of the ttl after which a cached token in use is looked up again in the background


class Authenticator:
    """Resolves bearer tokens to Actors, caching briefly: a revoked token stops working within `ttl`.

    It also keeps tokens' `last_used_at`, writing it at most once per TOUCH_EVERY seconds per token
    (per process), never once per request."""

    def __init__(self, db: Database, ttl: float = 2.0) -> None:
        self.db = db
        self.ttl = ttl
        # token hash -> (expiry, resolved). Not a TTLCache: an entry's life counts from before its lookup (so a
        # revoked token is refused within ttl), it is looked up again ahead of its expiry on the caller's runner,
        # and dropped once found revoked; TTLCache dates entries when stored and recounts only expired ones, in a
        # thread of its own, keeping them if the recount fails.
        self._cache: dict[str, tuple[float, _Resolved]] = {}
        self._touched: TTLCache[int, bool] = TTLCache("token-touches", TOUCH_EVERY, 10_000)  # token ids written
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def cached(self, token: str, refresh: Callable[[Callable[[], None]], object] | None = None) -> Actor | None:
        """The Actor for `token` if the cache answers without the database (safe on the event loop).

        With `refresh` (which runs a function in a thread), an entry past REFRESH_AFTER of its life is
        looked up again there while this answer is served: a token in steady use is then always found
        here, instead of missing every `ttl` (a database round trip in the caller's request). What is
        served is still never older than `ttl`."""
        key = hash_token(token)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is None or hit[0] <= now:
            return None
        _check_expiry(hit[1].expires_at)
        if refresh is not None and hit[0] - now < self.ttl * (1 - REFRESH_AFTER):
            with self._lock:
                due = key not in self._refreshing
                self._refreshing.add(key)
            if due:
                refresh(lambda: self._refresh(key))
        return hit[1].actor

    def _refresh(self, key: str) -> None:
        """Look a cached token up again (in a thread); a token gone or revoked leaves the cache."""
        now = time.monotonic()
        try:
            resolved = self._lookup(key)
        except InvalidToken:
            with self._lock:
                self._cache.pop(key, None)
            return
        except Exception:  # the database is away: the entry expires as usual, the next miss reports it
            log.warning("could not refresh a cached token", exc_info=True)
            return
        finally:
            with self._lock:
                self._refreshing.discard(key)
        with self._lock:
            self._cache[key] = (now + self.ttl, resolved)
        self._touch(resolved.token_id)

    def from_token(self, token: str) -> Actor:
        key = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            resolved = hit[1]
        else:
            resolved = self._lookup(key)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (now + self.ttl, resolved)
        _check_expiry(resolved.expires_at)
        self._touch(resolved.token_id)
        return resolved.actor

    def _touch(self, token_id: int) -> None:
        if not self._touched.add(token_id, True):
            return
        with self.db.write() as session:
            session.execute(update(Token).where(Token.id == token_id).values(last_used_at=utcnow()))

    def _lookup(self, token_hash: str) -> _Resolved:
        with self.db.read() as session:
            row = session.execute(
                select(Token, Account)
                .join(Account, Account.id == Token.user_id)
                .where(Token.token_hash == token_hash, Token.revoked_at.is_(None))
            ).first()
            if row is None:
                raise InvalidToken()
            token, user = row
            scope = TokenScope.from_json(token.scopes) if token.scopes is not None else None
            actor = load_actor(session, user, token.role, token.name, scope)
            return _Resolved(actor, token.id, token.expires_at)


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise TokenExpired(expires_at.replace(microsecond=0).isoformat() + "Z")


def list_tokens(session: Session, user_id: int) -> list[Token]:
    """A user's tokens that still work, newest first (their secrets are not stored, so not shown)."""
    return list(
        session.scalars(
            select(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None)).order_by(Token.id.desc())
        )
    )


def revoke_token_id(session: Session, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's own tokens by its id."""
    row = session.get(Token, token_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    _audit_revoke(session, row)
    return True


def remove_member(session: Session, org_name: str, user_name: str, *, by: Actor | None = None) -> None:
    org = get_account(session, org_name)
    if org is None or org.kind != ORG:
        raise NotFound(f"No organisation named {org_name!r}")
    user = _user(session, user_name)
    member = session.get(Membership, (org.id, user.id))
    if member is None:
        return
    if member.role == "admin":
        _keep_an_admin(session, org.id)
    session.delete(member)
    audit.record(session, "org.member_remove", actor=by, target=f"{org.name}/{user.name}", before=member.role)


def _keep_an_admin(session: Session, org_id: int) -> None:
    """Refuse to remove or demote an organisation's last admin."""
    admins = session.scalars(select(Membership).where(Membership.org_id == org_id, Membership.role == "admin"))
    if len(list(admins)) <= 1:
        raise BadRequest("An organisation keeps at least one admin")


__all__ = ["ANONYMOUS", "Authenticator", "create_org", "create_token", "create_user"]
