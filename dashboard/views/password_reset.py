"""Forgot your password: ask for a link by email, then set a new password with it
(services/password_reset.py). Both pages are public, and both are throttled."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.services import password_reset, sign_in
from dashboard.views.access import public
from dashboard.views.reset_forms import ForgotPasswordForm, ResetPasswordForm

bp = Blueprint("password_reset", __name__)

# Said whether or not the address has an account: the page tells nothing about which do.
SENT = (
    "If an account uses that address, we've sent a link to it. The link works once, for"
    " {minutes} minutes. Nothing there? Check the spam folder, or ask an admin."
)
DEAD_LINK = (
    "This link does not work any more: it was used already, the password was changed since,"
    " or it is older than {minutes} minutes. Ask for a new one below."
)


def _minutes() -> int:
    return max(1, int(current_app.config["PASSWORD_RESET_MAX_AGE"]) // 60)


def _too_many(template: str, retry_after: int, **context: object) -> ResponseReturnValue:
    minutes = math.ceil(retry_after / 60)
    context["throttled"] = (
        f"Too many tries from here or for this account. Wait {minutes}"
        f" minute{'s' if minutes > 1 else ''}, then try again."
    )
    return render_template(template, **context), 429, {"Retry-After": str(retry_after)}


@bp.route("/login/forgot", methods=["GET", "POST"])
@public
def forgot() -> ResponseReturnValue:
    """Ask for a password-reset link by email; the same answer for every address."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/forgot_password.html", form=form), status
    base = current_app.config["PUBLIC_BASE_URL"]
    throttled = password_reset.ask(
        form.email.data or "",
        request.remote_addr or "unknown",
        link_for=lambda token: base + url_for("password_reset.reset", reset_token=token),
    )
    if throttled is not None:
        return _too_many("pages/forgot_password.html", throttled.retry_after, form=form)
    return render_template(
        "pages/forgot_password.html",
        form=ForgotPasswordForm(formdata=None),
        sent=SENT.format(minutes=_minutes()),
    )


@bp.route("/login/reset/<reset_token>", methods=["GET", "POST"])
@public
def reset(reset_token: str) -> ResponseReturnValue:
    """Choose a new password with the link from the email; every session then ends."""
    dead = {"dead_link": DEAD_LINK.format(minutes=_minutes()), "form": ForgotPasswordForm()}
    if request.method == "GET":
        if password_reset.user_for(reset_token) is None:
            return render_template("pages/forgot_password.html", **dead), 404
        return render_template("pages/reset_password.html", form=ResetPasswordForm())
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        if password_reset.user_for(reset_token) is None:
            return render_template("pages/forgot_password.html", **dead), 404
        return render_template("pages/reset_password.html", form=form), 422
    outcome = password_reset.reset(
        reset_token, form.password.data or "", request.remote_addr or "unknown"
    )
    if isinstance(outcome, sign_in.Throttled):
        return _too_many("pages/reset_password.html", outcome.retry_after, form=form)
    if not outcome.passed:
        # Kept: the failure counts under the sign-in throttle (this view returned).
        return render_template("pages/forgot_password.html", **dead), 404
    flash(
        "Your password is changed, and every browser signed in with the old one is signed"
        " out. Sign in with the new one.",
        "success",
    )
    return redirect(url_for("auth.login"), code=303)
