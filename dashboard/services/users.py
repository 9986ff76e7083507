"""Staff accounts: create, find, change role, password, deactivate.

A new role, a new password or a deactivation ends every session of that user: whoever
held one signs in again, under the new terms.
"""

from __future__ import annotations

import logging

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from dashboard.domain.emails import normalize_email
from dashboard.extensions import db
from dashboard.models import Role, User
from dashboard.services import sessions

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12


class UserError(ValueError):
    """A user-management request that cannot be done; the message says why."""


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")


def create_user(email: str, password: str, role: Role) -> User:
    email = normalize_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise UserError(f"{email!r} is not a usable email address: {error}") from error
    if find_by_email(email) is not None:
        raise UserError(f"A user with the email {email} already exists.")
    check_password_strength(password)
    user = User(email=email, role=role.value, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    log.info("user created", extra={"user_id": user.id, "role": user.role})
    return user


def _active_admins() -> int:
    query = select(func.count()).where(User.role == Role.ADMIN.value, User.active.is_(True))
    return db.session.scalar(query) or 0


def _guard_last_admin(user: User) -> None:
    if user.role == Role.ADMIN.value and user.active and _active_admins() <= 1:
        raise UserError("This is the last active admin; make another admin first.")


def set_role(user: User, role: Role) -> None:
    if user.role == role.value:
        return
    _guard_last_admin(user)
    user.role = role.value
    sessions.end_all_sessions(user)
    db.session.flush()
    log.info("user role changed", extra={"user_id": user.id, "role": user.role})


def set_active(user: User, active: bool, *, by: User | None = None) -> None:
    """Let a user sign in, or stop them; `by` is the admin doing it (None: the command line)."""
    if user.active == active:
        return
    if not active:
        if by is not None and by.id == user.id:
            raise UserError("You cannot deactivate your own account.")
        _guard_last_admin(user)
        sessions.end_all_sessions(user)
    user.active = active
    db.session.flush()
    log.info("user active changed", extra={"user_id": user.id, "active": active})


def set_password(user: User, password: str) -> None:
    """A new password; every session signed in with the old one ends."""
    check_password_strength(password)
    user.set_password(password)
    sessions.end_all_sessions(user)
    db.session.flush()
    log.info("user password changed", extra={"user_id": user.id})


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))
