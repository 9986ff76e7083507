"""The admin's setting "Require two-step sign-in for staff and admins", kept in the
`settings` table so that every worker reads the same.

When it is on, a staff or admin user without a second step who signs in sets one up before
any page opens (the sign-in's `enrol` step), and cannot turn theirs off. Support only reads
and is not required. Turning it on also ends the sessions of staff and admins who have no
second step: a browser signed in before cannot carry on around it.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.extensions import db
from dashboard.models import Role, Setting, User, utcnow
from dashboard.services import sessions
from dashboard.services.two_factor.credentials import (
    TwoFactorError,
    has_second_factor,
    users_with_second_factor,
)

audit = logging.getLogger("dashboard.audit")

SETTING = "require_two_factor_for_staff"
REQUIRED_ROLES = (Role.ADMIN, Role.STAFF)


def is_on() -> bool:
    value = db.session.scalar(select(Setting.value).where(Setting.name == SETTING))
    return value == "on"


def applies_to(user: User) -> bool:
    """Whether this user must have a second step."""
    return user.has_role(*REQUIRED_ROLES) and is_on()


def set_required(required: bool, *, by: User) -> int:
    """Turn the requirement on or off, as the admin `by`; how many sessions it ended."""
    if required and not has_second_factor(by):
        raise TwoFactorError(
            "Turn on two-step sign-in for your own account first (on your account page): "
            "requiring it would otherwise sign you out."
        )
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    values = {"value": "on" if required else "off", "changed_at": utcnow(), "changed_by_id": by.id}
    db.session.execute(
        insert(Setting)
        .values(name=SETTING, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values)
    )
    ended = 0
    if required:
        enrolled = users_with_second_factor()
        for user in db.session.scalars(
            select(User).where(
                User.role.in_([role.value for role in REQUIRED_ROLES]), User.active.is_(True)
            )
        ):
            if user.id not in enrolled:
                ended += sessions.end_all_sessions(user)
    db.session.flush()
    audit.info(
        "two-step sign-in %s for staff and admins by user %s (%s sessions ended)",
        "required" if required else "no longer required",
        by.id,
        ended,
        extra={"user_id": by.id, "required": required, "sessions_ended": ended},
    )
    return ended
