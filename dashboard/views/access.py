"""Who may call which view. Every route is either public by name or guarded by a role."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, has_request_context, request
from flask_login import current_user

from dashboard.extensions import login_manager
from dashboard.models import Role

audit = logging.getLogger("dashboard.audit")

READERS = (Role.ADMIN, Role.STAFF, Role.SUPPORT)
STAFF = (Role.ADMIN, Role.STAFF)
ADMINS = (Role.ADMIN,)

View = TypeVar("View", bound=Callable[..., Any])


def roles_required(*roles: Role) -> Callable[[View], View]:
    """Signed-in users with one of these roles; others get 403 and an audit log line."""

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                audit.warning(
                    "forbidden: %s %s by user %s (%s)",
                    request.method,
                    request.path,
                    current_user.id,
                    current_user.role,
                    extra={
                        "user_id": current_user.id,
                        "role": current_user.role,
                        "method": request.method,
                        "path": request.path,
                    },
                )
                abort(403)
            return view(*args, **kwargs)

        guarded.required_roles = roles  # type: ignore[attr-defined]
        return cast(View, guarded)

    return decorator


def role_flags() -> dict[str, bool]:
    """What the signed-in user may do, for templates: from the roles the routes require."""
    # Outside a request (a template rendered by a command) nobody is signed in.
    signed_in = has_request_context() and bool(current_user.is_authenticated)
    return {
        "can_move_money": signed_in and current_user.has_role(*STAFF),
        "can_manage_users": signed_in and current_user.has_role(*ADMINS),
    }


def public(view: View) -> View:
    """Open to anyone: sign-in, buyer pay links, health checks, Stripe's webhooks."""
    view.required_roles = None  # type: ignore[attr-defined]
    return view
