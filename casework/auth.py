"""Accounts, roles, sessions, sign-in throttling and CSRF tokens of the case-review page.

Passwords are kept as argon2 hashes. A session is a row of the store (:class:`WebSession`); its
cookie holds a random token, signed (itsdangerous) with a key derived from the store's own secret,
and the row holds the token's hash, the account and the session's CSRF token. Signing out deletes
the row, so a copied cookie stops working at once; a session unused for the configured idle time
has ended. The sign-in form's token is a session of no account, used once. The account is read
again on every request, so a removed account stops working at once.

Failed sign-ins are counted per account and per client address (:class:`SignInThrottle`): after
a few, each further try must wait, longer each time; after more, the account is locked until a
supervisor or an administrator unlocks it.

An administrator disables, re-enables and deletes accounts, resets passwords and changes roles
(:func:`disable_account` and the functions after it); the rules are here, not in the forms: no one
does any of it to their own account, the last active administrator is kept, and disabling,
deleting or a reset by someone else ends the account's sessions at once.

The roles and what each may do are declared in :mod:`casework.workflow`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from casework.store import Case, CaseworkError, SignInFailure, User, WebSession, now
from casework.workflow import ADMIN, CASEWORKERS, CLOSED, ROLES

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
    existing = session.get(User, name)
    if existing is not None and existing.deleted_at is not None:
        raise CaseworkError(f"the name {name!r} belonged to an account deleted on {existing.deleted_at:%Y-%m-%d}: "
                            "names are not reused, so that the access log and case history name one person each")
    if existing is not None:
        raise CaseworkError(f"account {name!r} already exists")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=now())
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The account when ``password`` is its password, else None (the same answer for an unknown name and for
    a disabled or deleted account)."""
    user = session.get(User, name)
    if user is None or not user.active:
        _hasher.hash(password)  # as slow as a wrong password, so timing tells no names
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def accounts(session: Session, include_inactive: bool = False) -> list[User]:
    """The active accounts by role and name; with ``include_inactive``, disabled and deleted ones too."""
    query = select(User).order_by(User.role, User.name)
    if not include_inactive:
        query = query.where(User.disabled_at.is_(None))
    return list(session.scalars(query))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class Sessions:
    """Sessions of the page: rows of the store, named by signed cookies.

    Parameters
    ----------
    secret : bytes
        The store's secret; the signing key is derived from it, never the secret itself.
    max_age_seconds : float
        A session older than this has ended, however recently it was used.
    idle_seconds : float
        A session unused for this long has ended.
    """

    LAST_SEEN_STEP = dt.timedelta(seconds=30)
    """A session's last use is written at most this often, not on every request."""
    UNUSED_SIGN_IN_FORMS = dt.timedelta(hours=1)
    """Sign-in form sessions older than this are removed when someone signs in."""

    def __init__(self, secret: bytes, max_age_seconds: float, idle_seconds: float) -> None:
        key = hmac.new(secret, b"case-review session cookies", hashlib.sha256).hexdigest()
        self.serializer = URLSafeTimedSerializer(key, salt="session")
        self.max_age_seconds = max_age_seconds
        self.idle = dt.timedelta(seconds=idle_seconds)

    def open(self, session: Session, user_name: str | None) -> tuple[str, str]:
        """A new session for ``user_name`` (None: a sign-in form's); its cookie and CSRF token."""
        token, csrf, at = secrets.token_urlsafe(32), secrets.token_urlsafe(32), now()
        session.add(WebSession(token_hash=_token_hash(token), user_name=user_name, csrf=csrf, created_at=at,
                               last_seen_at=at))
        session.flush()
        return self.serializer.dumps({"session": token}), csrf

    def _token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.serializer.loads(cookie, max_age=self.max_age_seconds).get("session")
        except (BadSignature, AttributeError):
            return None

    def current(self, session: Session, cookie: str | None) -> WebSession | None:
        """The live session named by ``cookie``; an idle one is ended here."""
        token = self._token(cookie)
        row = session.get(WebSession, _token_hash(token)) if token else None
        if row is None:
            return None
        at = now()
        if at - row.last_seen_at > self.idle:
            session.delete(row)
            return None
        if at - row.last_seen_at > self.LAST_SEEN_STEP:
            row.last_seen_at = at
        return row

    def end(self, session: Session, cookie: str | None) -> WebSession | None:
        """End the session named by ``cookie``; the ended session, if it was live."""
        row = self.current(session, cookie)
        if row is not None:
            session.delete(row)
            session.flush()
        return row

    def use_sign_in_form(self, session: Session, cookie: str | None, token: str | None) -> bool:
        """Whether a posted sign-in form carries its form session's token; the form session ends either way."""
        row = self.end(session, cookie)
        session.execute(delete(WebSession).where(WebSession.user_name.is_(None),
                                                 WebSession.created_at < now() - self.UNUSED_SIGN_IN_FORMS))
        return row is not None and row.user_name is None and csrf_matches(row.csrf, token)


def csrf_matches(expected: str | None, token: str | None) -> bool:
    """Whether a form's token is its session's (compared in constant time)."""
    return bool(expected and token) and hmac.compare_digest(str(expected), str(token))


# ------------------------------------------------------------------------------- sign-in throttling


@dataclass(frozen=True)
class SignInThrottle:
    """Growing waits between failed sign-ins, and locking an account after too many.

    Parameters
    ----------
    free_failures : int
        Failures of an account or from an address before each further try must wait.
    lock_after : int
        Failures of an account in a row that lock it.
    """

    free_failures: int
    lock_after: int
    longest_wait: dt.timedelta = dt.timedelta(minutes=15)
    forget_after: dt.timedelta = dt.timedelta(hours=1)
    """An address's failures are forgotten after this long without one."""

    @staticmethod
    def keys(name: str, address: str) -> tuple[str, str]:
        return f"account:{name.strip().casefold()}"[:200], f"address:{address}"[:200]

    def wait(self, failures: int) -> dt.timedelta:
        """How long after its last failure a key with ``failures`` may try again."""
        if failures < self.free_failures:
            return dt.timedelta(0)
        return min(dt.timedelta(seconds=2 ** min(failures - self.free_failures, 20)), self.longest_wait)

    def refusal(self, session: Session, name: str, address: str) -> str | None:
        """Why a sign-in of ``name`` from ``address`` is not tried now, or None when it may be."""
        at = now()
        for key in self.keys(name, address):
            row = session.get(SignInFailure, key)
            if row is None:
                continue
            if row.locked_at is not None:
                return ("This account is locked after too many failed sign-ins: a supervisor or an "
                        "administrator can unlock it.")
            if key.startswith("address:") and at - row.last_failure_at > self.forget_after:
                continue
            remaining = row.last_failure_at + self.wait(row.failures) - at
            if remaining > dt.timedelta(0):
                seconds = max(1, round(remaining.total_seconds()))
                return f"Too many failed sign-ins: wait {seconds:,} second{'s' if seconds > 1 else ''} and try again."
        return None

    def failed(self, session: Session, name: str, address: str) -> bool:
        """Count a failed sign-in; whether it locked the account."""
        at, locked = now(), False
        for key in self.keys(name, address):
            row = session.get(SignInFailure, key)
            if row is None:
                row = SignInFailure(key=key, failures=0, last_failure_at=at)
                session.add(row)
            elif key.startswith("address:") and at - row.last_failure_at > self.forget_after:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = at
            if key.startswith("account:") and row.failures >= self.lock_after and row.locked_at is None:
                row.locked_at, locked = at, True
        session.flush()
        return locked

    def succeeded(self, session: Session, name: str) -> None:
        """A correct password: the account's failures are forgotten (the address's are not)."""
        session.execute(delete(SignInFailure).where(SignInFailure.key == self.keys(name, "")[0]))


def locked_accounts(session: Session) -> list[str]:
    """The accounts locked by failed sign-ins."""
    keys = session.scalars(select(SignInFailure.key).where(SignInFailure.locked_at.is_not(None)))
    folded = {key.removeprefix("account:") for key in keys}
    return [user.name for user in accounts(session) if user.name.casefold() in folded]


def unlock(session: Session, name: str) -> None:
    """Unlock an account locked by failed sign-ins (and forget its failures)."""
    if session.get(User, name) is None:
        raise CaseworkError(f"no account {name!r}")
    session.execute(delete(SignInFailure).where(SignInFailure.key == SignInThrottle.keys(name, "")[0]))


# ----------------------------------------------------------------------------------- administration


def end_sessions_of(session: Session, name: str) -> int:
    """End every session of account ``name`` (its copied cookies stop working at once); how many ended."""
    return session.execute(delete(WebSession).where(WebSession.user_name == name)).rowcount


def open_cases_by_assignee(session: Session) -> dict[str, int]:
    """How many cases each account holds that are not closed."""
    return dict(session.execute(select(Case.assignee, func.count()).where(
        Case.assignee.is_not(None), Case.status != CLOSED).group_by(Case.assignee)).all())


def _administered(session: Session, actor: str, name: str, what: str) -> User:
    """The account ``name``, when ``actor`` may ``what`` it; :class:`CaseworkError` saying why not."""
    user = session.get(User, name)
    if user is None:
        raise CaseworkError(f"no account {name!r}")
    if user.deleted_at is not None:
        raise CaseworkError(f"account {name} was deleted on {user.deleted_at:%Y-%m-%d} and cannot be changed")
    if actor == name:
        raise CaseworkError(f"you cannot {what} your own account: ask another administrator")
    return user


def _keep_an_administrator(session: Session, user: User, what: str) -> None:
    """Refuse to ``what`` the last active administrator: no one could manage accounts afterwards."""
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == ADMIN, User.disabled_at.is_(None), User.name != user.name))
    if user.role == ADMIN and user.active and not others:
        raise CaseworkError(f"{user.name} is the last active administrator: add or re-enable another before you "
                            f"{what} this one")


def disable_account(session: Session, actor: str, name: str) -> int:
    """Disable account ``name``: it cannot sign in, act or be given cases; its sessions end. How many ended."""
    user = _administered(session, actor, name, "disable")
    if not user.active:
        raise CaseworkError(f"account {name} is already disabled")
    _keep_an_administrator(session, user, "disable")
    user.disabled_at = now()
    return end_sessions_of(session, name)


def enable_account(session: Session, actor: str, name: str) -> None:
    """Re-enable a disabled account: it signs in with its password as before."""
    user = _administered(session, actor, name, "re-enable")
    if user.active:
        raise CaseworkError(f"account {name} is not disabled")
    user.disabled_at = None


def delete_account(session: Session, actor: str, name: str) -> int:
    """Delete account ``name``: disabled for good, its password and sign-in failures removed, its sessions ended.

    The row and its name stay (a soft delete). The access log is a hash chain and the case
    history names who did what: both keep the name as written, so it must go on meaning this one
    person. Anonymising it would leave every decision of theirs answerable by no one and break the
    chain; the name is a member of staff's, held for accountability, not a data subject's record.
    A deleted name is never given to a new account. Returns how many sessions ended.
    """
    user = _administered(session, actor, name, "delete")
    _keep_an_administrator(session, user, "delete")
    at = now()
    user.disabled_at = user.disabled_at or at
    user.deleted_at, user.password_hash = at, ""
    session.execute(delete(SignInFailure).where(SignInFailure.key == SignInThrottle.keys(name, "")[0]))
    return end_sessions_of(session, name)


def reset_password(session: Session, actor: str, name: str, password: str) -> int:
    """Give account ``name`` a new password; a reset by someone else also ends its sessions and unlocks it.

    Returns how many sessions ended.
    """
    user = session.get(User, name)
    if user is None or user.deleted_at is not None:
        raise CaseworkError(f"no account {name!r}" if user is None else
                            f"account {name} was deleted on {user.deleted_at:%Y-%m-%d} and cannot be changed")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CaseworkError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = _hasher.hash(password)
    if actor == name:
        return 0
    session.execute(delete(SignInFailure).where(SignInFailure.key == SignInThrottle.keys(name, "")[0]))
    return end_sessions_of(session, name)


def change_role(session: Session, actor: str, name: str, role: str) -> None:
    """Give account ``name`` role ``role``.

    Refused for one's own account and the last active administrator, and, while the account holds
    open cases, a change to a role that cannot open them (a supervisor reassigns them first).
    """
    if role not in ROLES:
        raise CaseworkError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    user = _administered(session, actor, name, "change the role of")
    if user.role == role:
        raise CaseworkError(f"account {name} is already {role}")
    _keep_an_administrator(session, user, "demote")
    held = open_cases_by_assignee(session).get(name, 0)
    if role not in CASEWORKERS and held:
        raise CaseworkError(f"{name} holds {held:,} open case(s), and a {role} cannot open cases: a supervisor "
                            "reassigns them first")
    user.role = role
