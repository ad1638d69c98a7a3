"""Browser sessions: password login, a server-side session per login, and its CSRF token.

The cookie carries a random id; the table stores its sha256 only. Each session has its own CSRF token,
which every state-changing web form must echo back.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haven.auth.models import USER, Account, WebSession
from haven.auth.permissions import Actor
from haven.auth.service import create_user, hash_password, load_actor, verify_password
from haven.db import utcnow
from haven.errors import BadRequest, Unauthorized

MIN_PASSWORD = 8
# A real scrypt hash, so a login for a missing user costs as long as one with a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


@dataclass(frozen=True)
class WebLogin:
    """What a request's session cookie stands for."""

    actor: Actor
    csrf_token: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def authenticate(session: Session, name: str, password: str) -> Account:
    """The user with this name and password; Unauthorized (the same for both mistakes) otherwise."""
    user = session.scalar(select(Account).where(Account.name == name, Account.kind == USER))
    if user is None or user.password_hash is None:
        verify_password(password, _DUMMY_HASH)
        raise Unauthorized("Wrong user name or password")
    if not verify_password(password, user.password_hash):
        raise Unauthorized("Wrong user name or password")
    return user


def sign_up(session: Session, name: str, email: str, password: str) -> Account:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"The password must have at least {MIN_PASSWORD} characters")
    if "@" not in email or len(email) > 255:
        raise BadRequest("Enter a valid e-mail address")
    return create_user(session, name, email=email, password=password)


def start(session: Session, user_id: int, days: int) -> str:
    """Open a session for `user_id`; returns the id for the cookie (shown nowhere else)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at < now))
    session.add(
        WebSession(
            id_hash=_hash(session_id),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return session_id


def lookup(session: Session, session_id: str) -> WebLogin | None:
    """The login a cookie stands for, if the session exists and has not expired."""
    row = session.execute(
        select(WebSession, Account)
        .join(Account, Account.id == WebSession.user_id)
        .where(WebSession.id_hash == _hash(session_id), WebSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    web, user = row
    return WebLogin(load_actor(session, user, "write", None), web.csrf_token)


def end(session: Session, session_id: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == _hash(session_id)))
