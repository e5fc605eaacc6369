"""Accounts, roles, signed session cookies and CSRF tokens of the case-review page.

Passwords are kept as argon2 hashes. A session is a cookie signed (itsdangerous) with a key derived
from the store's own secret, holding the account name and the session's CSRF token; every form
carries that token and every post is refused without it. The account is read again on every
request, so a removed account stops working at once.

The roles and what each may do are declared in :mod:`casework.workflow`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.store import CaseworkError, User, now
from casework.workflow import ROLES

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


def add_user(session: Session, name: str, role: str, password: str) -> User:
    """Create an account; :class:`CaseworkError` for a taken name, unknown role or short password."""
    if role not in ROLES:
        raise CaseworkError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 64:
        raise CaseworkError("an account name is 1 to 64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CaseworkError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.get(User, name) is not None:
        raise CaseworkError(f"account {name!r} already exists")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=now())
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The account when ``password`` is its password, else None (same answer for an unknown name)."""
    user = session.get(User, name)
    if user is None:
        _hasher.hash(password)  # as slow as a wrong password, so timing tells no names
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def accounts(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.name)))


class SessionCookies:
    """Signed session cookies and the CSRF token each session carries.

    Parameters
    ----------
    secret : bytes
        The store's secret; the signing key is derived from it, never the secret itself.
    max_age_seconds : float
        A session older than this is refused.
    """

    def __init__(self, secret: bytes, max_age_seconds: float) -> None:
        key = hmac.new(secret, b"case-review session cookies", hashlib.sha256).hexdigest()
        self.serializer = URLSafeTimedSerializer(key, salt="session")
        self.max_age_seconds = max_age_seconds

    def issue(self, user_name: str) -> str:
        """A new session cookie for ``user_name`` with a fresh CSRF token."""
        return self.serializer.dumps({"user": user_name, "csrf": secrets.token_urlsafe(32)})

    def issue_anonymous(self) -> str:
        """A cookie carrying only a CSRF token, for the sign-in form."""
        return self.serializer.dumps({"user": None, "csrf": secrets.token_urlsafe(32)})

    def read(self, cookie: str | None) -> dict[str, Any] | None:
        """The session in ``cookie`` if its signature holds and it has not expired."""
        if not cookie:
            return None
        try:
            return self.serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:
            return None


def csrf_matches(session_data: dict[str, Any] | None, token: str | None) -> bool:
    """Whether a form's token is its session's (compared in constant time)."""
    expected = (session_data or {}).get("csrf")
    return bool(expected and token) and hmac.compare_digest(str(expected), str(token))
