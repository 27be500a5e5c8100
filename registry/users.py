"""Users, password hashing (pwdlib/argon2) and bearer tokens (PyJWT)."""

from __future__ import annotations

from datetime import timedelta

import jwt
from pwdlib import PasswordHash
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from commons.errors import Conflict, Unauthorized
from registry.clock import utcnow
from registry.models import User

password_hash = PasswordHash.recommended()
JWT_ALGORITHM = "HS256"
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = password_hash.hash("not-a-real-password")


def create_user(session: Session, *, username: str, password: str, is_admin: bool = False) -> User:
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"user name {username!r} is taken; choose another", field="username")
    user = User(username=username, password_hash=password_hash.hash(password), is_admin=is_admin)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"user name {username!r} is taken; choose another", field="username") from error
    return user


def authenticate(session: Session, *, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        password_hash.verify(password, _DUMMY_HASH)
        raise Unauthorized("wrong user name or password")
    if not password_hash.verify(password, user.password_hash):
        raise Unauthorized("wrong user name or password")
    return user


def issue_token(user: User, *, secret_key: str, expire_minutes: int) -> str:
    now = utcnow()
    claims = {"sub": user.id, "iat": now, "exp": now + timedelta(minutes=expire_minutes), "typ": "access"}
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
    return user


def get_user_by_name(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()
