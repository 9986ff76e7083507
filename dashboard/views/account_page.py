"""The account page, as the two blueprints whose forms are on it show it: auth (sessions,
"Sign out everywhere", the time zone, alert emails) and two_factor (recovery codes, turning
it off)."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.models import User
from dashboard.services import alerts, sessions
from dashboard.services.two_factor import credentials, requirement
from dashboard.views.forms import (
    AlertChoicesForm,
    ConfirmIdentityForm,
    EmptyForm,
    TimeZoneForm,
    TurnOffTwoStepForm,
)
from dashboard.web import viewer_time_zone


def account_page(
    *, status: int = 200, headers: dict[str, str] | None = None, **forms: Any
) -> ResponseReturnValue:
    """The page, each form blank but those given (a refused one, with its messages)."""
    user: User = current_user._get_current_object()
    blank = {
        "form": EmptyForm(),
        "new_codes_form": ConfirmIdentityForm(formdata=None),
        "turn_off_form": TurnOffTwoStepForm(formdata=None),
        "time_zone_form": TimeZoneForm(formdata=None, time_zone=user.time_zone or ""),
        "alerts_form": AlertChoicesForm(
            formdata=None, data={kind.value: True for kind in alerts.chosen(user)}
        ),
    }
    page = render_template(
        "pages/account.html",
        sessions=sessions.sessions_of(user),
        this_session=sessions.token_hash(user.get_id()),
        two_step=credentials.status(user),
        two_step_required=requirement.applies_to(user),
        shown_in=viewer_time_zone(),
        **{**blank, **forms},
    )
    return page, status, headers or {}
