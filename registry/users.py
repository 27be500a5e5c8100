"""Users, password hashing (pwdlib/argon2), bearer tokens (PyJWT), sessions, password changes, disabled accounts.

User names are unique without regard to case (`Alice` cannot sign up beside `alice`; the database holds a unique
index on lower(username)). Sign-in and lookups by name take the exact name first, then the one account whose name
matches without regard to case, so `Alice` signs `alice` in.

A sign-in token (JWT) carries the account's `session_generation` (claim `gen`): signing out or changing the
password raises it, which ends every sign-in token issued before, at once, on every replica (the user row is
read on every request anyway). A disabled account's tokens are refused on their next request.
"""

from __future__ import annotations

from datetime import timedelta

import jwt
from pwdlib import PasswordHash
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from registry.clock import utcnow
from registry.models import User
from registry.passwords import DEFAULT_MIN_SCORE, check_password

password_hash = PasswordHash.recommended()
JWT_ALGORITHM = "HS256"
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = password_hash.hash("not-a-real-password")
DISABLED = "this account is disabled; ask an administrator of this commons to enable it"


def _taken(username: str) -> Conflict:
    return Conflict(
        f"user name {username!r} is taken (names are unique without regard to case); choose another",
        field="username",
    )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    is_admin: bool = False,
    min_password_score: int = DEFAULT_MIN_SCORE,
) -> User:
    """A new account; Conflict when the name is taken in any case, InvalidInput for a weak password."""
    if _same_name_any_case(session, username):
        raise _taken(username)
    check_password(password, user_inputs=[username], min_score=min_password_score)
    user = User(username=username, password_hash=password_hash.hash(password), is_admin=is_admin)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:  # a concurrent sign-up of the same name (any case) won the race
        raise _taken(username) from error
    return user


def _same_name_any_case(session: Session, username: str) -> list[User]:
    query = select(User).where(func.lower(col(User.username)) == username.lower()).order_by(col(User.created_at))
    return list(session.exec(query).all())


def get_user_by_name(session: Session, username: str) -> User | None:
    """The account named exactly so, else the one whose name matches without regard to case."""
    exact = session.exec(select(User).where(User.username == username)).first()
    if exact is not None:
        return exact
    matches = _same_name_any_case(session, username)
    return matches[0] if len(matches) == 1 else None


def authenticate(session: Session, *, username: str, password: str) -> User:
    user = get_user_by_name(session, username)
    if user is None:
        password_hash.verify(password, _DUMMY_HASH)
        raise Unauthorized("wrong user name or password")
    if not password_hash.verify(password, user.password_hash):
        raise Unauthorized("wrong user name or password")
    if user.disabled:  # said only to whoever knows the password
        raise Forbidden(DISABLED)
    return user


def issue_token(user: User, *, secret_key: str, expire_minutes: int) -> str:
    now = utcnow()
    claims = {
        "sub": user.id,
        "iat": now,
        "exp": now + timedelta(minutes=expire_minutes),
        "typ": "access",
        "gen": user.session_generation,
    }
    return jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM)


def user_from_token(session: Session, token: str, *, secret_key: str) -> User:
    try:
        claims = jwt.decode(token, secret_key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized("the token has expired; sign in again at POST /api/v1/auth/token") from error
    except jwt.PyJWTError as error:
        raise Unauthorized("the token is not valid; sign in again at POST /api/v1/auth/token") from error
    user = session.get(User, str(claims["sub"]))
    if user is None:
        raise Unauthorized("the token's user no longer exists")
    if user.disabled:
        raise Forbidden(DISABLED)
    if claims.get("gen", 0) != user.session_generation:
        raise Unauthorized("this session has ended (signed out or password changed); sign in again")
    return user


def end_sessions(session: Session, user: User) -> None:
    """End every sign-in token of `user` issued so far (API tokens are not sessions: they stay)."""
    user.session_generation += 1
    session.add(user)
    session.flush()


def change_password(
    session: Session, user: User, *, current_password: str, new_password: str, min_score: int = DEFAULT_MIN_SCORE
) -> None:
    """Check the current password and the new one's strength, store it, and end every sign-in session."""
    if not password_hash.verify(current_password, user.password_hash):
        raise InvalidInput("the current password is wrong", field="current_password")
    if new_password == current_password:
        raise InvalidInput("the new password is the current one; choose another", field="new_password")
    check_password(new_password, user_inputs=[user.username], min_score=min_score, field="new_password")
    user.password_hash = password_hash.hash(new_password)
    end_sessions(session, user)


def set_disabled(session: Session, *, actor: User, username: str, disabled: bool) -> User:
    """An administrator disables or enables an account; disabling also ends its sign-in sessions."""
    if not actor.is_admin:
        raise Forbidden("only an administrator can disable or enable accounts")
    target = get_user_by_name(session, username)
    if target is None:
        raise NotFound(f"no user named {username!r}")
    if target.id == actor.id and disabled:
        raise Conflict("you cannot disable your own account; ask another administrator")
    if target.disabled != disabled:
        target.disabled = disabled
        if disabled:
            target.session_generation += 1  # enabling again does not bring old sign-in tokens back
        session.add(target)
        session.flush()
    return target
