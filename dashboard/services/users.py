"""Staff accounts: create, find, change role, password, time zone, deactivate.

A new role, a new password or a deactivation ends every session of that user: whoever
held one signs in again, under the new terms.
"""

from __future__ import annotations

import logging

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from dashboard.domain.emails import normalize_email
from dashboard.domain.time_zones import time_zone
from dashboard.extensions import db, upsert_insert
from dashboard.models import Role, User
from dashboard.services import sessions
from dashboard.services.two_factor import pending

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
UNKNOWN_TIME_ZONE = "Choose a time zone from the list."


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
    exists = UserError(f"A user with the email {email} already exists.")
    if find_by_email(email) is not None:
        raise exists
    check_password_strength(password)
    # The unique index decides between two admins creating the same address at once: the
    # second insert does nothing (it waits for the first to commit, on either database),
    # and is told so. No IntegrityError, so no savepoint, which on SQLite would be a
    # transaction of its own before the first write.
    user: User | None = db.session.scalar(
        upsert_insert()(User)
        .values(email=email, password_hash=User.hash_of(password), role=role.value, active=True)
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(User)
    )
    if user is None:
        raise exists
    log.info("user created", extra={"user_id": user.id, "role": user.role})
    return user


LAST_ADMIN = "This is the last active admin; make another admin first."


def _lock_admins(user: User, by: User | None) -> set[int]:
    """The ids of the active admins, held as they are until this transaction ends, with
    `user` read again under that hold; refused if `by` is no longer one of them.

    PostgreSQL: their rows are locked, in id order, so that two admins' requests wait for
    each other rather than deadlock, and a request that waited reads what the other
    committed. SQLite ignores FOR UPDATE and lets readers pass, but has one writer at a
    time: a write first (a no-op one) takes the database's write lock until commit, and
    what is read after it cannot change meanwhile.
    """
    admins = select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True))
    if db.session.get_bind().dialect.name == "postgresql":
        held = set(db.session.scalars(admins.order_by(User.id).with_for_update()))
    else:
        db.session.execute(
            update(User)
            .where(User.role == Role.ADMIN.value)
            .values(role=User.role)
            .execution_options(synchronize_session=False)
        )
        held = set(db.session.scalars(admins))
    db.session.refresh(user)
    if by is not None and by.id not in held:
        raise UserError("You are no longer an active admin; nothing was changed.")
    return held


def _refuse_last_admin(user: User, admins: set[int]) -> None:
    if user.id in admins and len(admins) <= 1:
        raise UserError(LAST_ADMIN)


def set_role(user: User, role: Role, *, by: User | None = None) -> None:
    """Give a user another role; `by` is the admin doing it (None: the command line)."""
    admins = _lock_admins(user, by)
    if user.role == role.value:
        return
    if role is not Role.ADMIN:
        _refuse_last_admin(user, admins)
    user.role = role.value
    sessions.end_all_sessions(user)
    db.session.flush()
    log.info("user role changed", extra={"user_id": user.id, "role": user.role})


def set_active(user: User, active: bool, *, by: User | None = None) -> None:
    """Let a user sign in, or stop them; `by` is the admin doing it (None: the command line)."""
    if not active and by is not None and by.id == user.id:
        raise UserError("You cannot deactivate your own account.")
    admins = _lock_admins(user, by)
    if user.active == active:
        return
    if not active:
        _refuse_last_admin(user, admins)
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


def replace_password(user: User, expected_hash: str, password: str) -> bool:
    """A new password, only if the password is still the one whose hash is `expected_hash`
    (what a reset link was made for): of two requests with one link, however close, one
    changes it and the other is told no. Every session ends, as with `set_password`, and
    every sign-in waiting for its second step."""
    check_password_strength(password)
    new_hash = User.hash_of(password)
    changed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == expected_hash)
        .values(password_hash=new_hash)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        return False
    set_committed_value(user, "password_hash", new_hash)  # as the UPDATE left the row
    sessions.end_all_sessions(user)
    # A sign-in that matched the old password and waits for its code ends too: whoever
    # typed it must not finish it with the code alone.
    pending.end_all(user)
    db.session.flush()
    log.info("user password reset", extra={"user_id": user.id})
    return True


def set_time_zone(user: User, name: str | None) -> None:
    """The zone this person sees times in (an IANA name); None: their browser's."""
    if name is not None and time_zone(name) is None:
        raise UserError(UNKNOWN_TIME_ZONE)
    user.time_zone = name
    db.session.flush()
    log.info("user time zone changed", extra={"user_id": user.id, "time_zone": name})


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))
