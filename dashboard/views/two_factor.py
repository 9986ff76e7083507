"""The account page's two-step sign-in: set it up (QR code, key, a code to confirm), make
new recovery codes, turn it off. Changing it asks for the password or a current code,
checked under the sign-in throttle."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.models import User
from dashboard.services import sign_in
from dashboard.services.two_factor import credentials, requirement
from dashboard.services.two_factor.credentials import TwoFactorError
from dashboard.views.access import READERS, roles_required
from dashboard.views.account_page import account_page
from dashboard.views.forms import (
    ConfirmIdentityForm,
    EnrolForm,
    TurnOffTwoStepForm,
)
from dashboard.views.two_step_pages import recovery_codes_page, setup_page

bp = Blueprint("two_factor", __name__, url_prefix="/account/two-step")


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def _to_account() -> ResponseReturnValue:
    return redirect(url_for("auth.account"), code=303)


@bp.route("")
@roles_required(*READERS)
def setup() -> ResponseReturnValue:
    """A new key to add to an authenticator app, as a QR code and as text."""
    user = _me()
    if credentials.has_second_factor(user):
        flash("Two-step sign-in is already on for your account.", "info")
        return _to_account()
    return setup_page(
        credentials.start_enrolment(user), EnrolForm(formdata=None), action=url_for(".confirm")
    )


@bp.route("", methods=["POST"])
@roles_required(*READERS)
def confirm() -> ResponseReturnValue:
    """Keep the key once a code from it is typed; show the recovery codes, once."""
    user = _me()
    form = EnrolForm()
    if not form.enrolment.data:
        return redirect(url_for(".setup"), code=303)
    try:
        enrolment = credentials.enrolment_from(user, form.enrolment.data)
    except TwoFactorError as error:
        fresh = EnrolForm(formdata=None)
        fresh.form_errors.append(str(error))
        return setup_page(
            credentials.start_enrolment(user), fresh, action=url_for(".confirm"), status=422
        )
    if not form.validate_on_submit():
        return setup_page(enrolment, form, action=url_for(".confirm"), status=422)
    try:
        recovery = credentials.confirm_enrolment(user, enrolment, form.code.data or "")
    except TwoFactorError as error:
        if credentials.has_second_factor(user):
            flash(str(error), "info")
            return _to_account()
        form.form_errors.append(str(error))
        return setup_page(enrolment, form, action=url_for(".confirm"), status=422)
    return recovery_codes_page(recovery, continue_to=url_for("auth.account"))


def _refused_identity(user: User, form: ConfirmIdentityForm) -> ResponseReturnValue | None:
    """None when the password or a current code was typed (checked under the sign-in
    throttle); otherwise the account page saying why (429 while throttled)."""
    config = current_app.config
    outcome = sign_in.under_throttle(
        user.email,
        request.remote_addr or "unknown",
        lambda: credentials.confirm_identity(user, form.secret.data or ""),
        max_failures=config["LOGIN_MAX_FAILURES"],
        window_seconds=config["LOGIN_FAILURE_WINDOW"],
    )
    if isinstance(outcome, sign_in.Throttled):
        minutes = math.ceil(outcome.retry_after / 60)
        message = (
            f"Too many failed attempts. Wait {minutes} minute{'s' if minutes > 1 else ''},"
            " then try again."
        )
        return _account_page(form, 429, {"Retry-After": str(outcome.retry_after)}, message)
    if not outcome.passed:
        message = "That is neither your password nor a current code from your app; nothing changed."
        return _account_page(form, 200, message=message)
    return None


def _account_page(
    form: ConfirmIdentityForm,
    status: int,
    headers: dict[str, str] | None = None,
    message: str | None = None,
) -> ResponseReturnValue:
    """The account page again, with this form's messages where the form is."""
    if message:
        form.form_errors.append(message)
    name = "turn_off_form" if isinstance(form, TurnOffTwoStepForm) else "new_codes_form"
    return account_page(status=status, headers=headers, **{name: form})


@bp.route("/recovery-codes", methods=["POST"])
@roles_required(*READERS)
def new_recovery_codes() -> ResponseReturnValue:
    """Ten new recovery codes; the old ones stop working."""
    user = _me()
    form = ConfirmIdentityForm()
    if not credentials.has_second_factor(user):
        flash("Two-step sign-in is off for your account: there are no recovery codes.", "info")
        return _to_account()
    if not form.validate_on_submit():
        return _account_page(form, 422)
    refused = _refused_identity(user, form)
    if refused is not None:
        return refused
    return recovery_codes_page(
        credentials.new_recovery_codes(user), continue_to=url_for("auth.account")
    )


@bp.route("/off", methods=["POST"])
@roles_required(*READERS)
def turn_off() -> ResponseReturnValue:
    """Turn two-step sign-in off for one's own account, where it is not required."""
    user = _me()
    form = TurnOffTwoStepForm()
    if not credentials.has_second_factor(user):
        flash("Two-step sign-in is already off for your account.", "info")
        return _to_account()
    if requirement.applies_to(user):
        return _account_page(
            form,
            403,
            message="Two-step sign-in is required for staff and admins: it cannot be turned off.",
        )
    if not form.validate_on_submit():
        return _account_page(form, 422)
    refused = _refused_identity(user, form)
    if refused is not None:
        return refused
    credentials.turn_off(user)
    flash("Two-step sign-in is off: signing in needs only your password now.", "success")
    return _to_account()
