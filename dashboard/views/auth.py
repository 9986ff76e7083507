"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from dashboard.services import users
from dashboard.views.access import READERS, public, roles_required
from dashboard.views.forms import EmptyForm, LoginForm

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, scheme or a protocol-relative URL, and
    nothing a Location header cannot carry (a line break there is a 500, or a header)."""
    fallback = url_for("orders.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if not target.isprintable():
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return fallback
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    """Sign-in form; throttled after repeated failures."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/login.html", form=form), status
    attempt = users.sign_in(
        form.email.data or "",
        form.password.data or "",
        request.remote_addr or "unknown",
        max_failures=current_app.config["LOGIN_MAX_FAILURES"],
        window_seconds=current_app.config["LOGIN_FAILURE_WINDOW"],
    )
    if attempt.throttled:
        minutes = max(1, attempt.retry_after // 60)
        form.form_errors.append(
            f"Too many failed sign-ins. Wait {minutes} minutes, then try again."
        )
        page = render_template("pages/login.html", form=form)
        return page, 429, {"Retry-After": str(attempt.retry_after)}
    if attempt.user is None:
        form.form_errors.append("That email and password do not match an active account.")
        # The failed attempt is kept (this view returned), and counts towards the throttle.
        return render_template("pages/login.html", form=form)
    login_user(attempt.user, remember=bool(form.remember.data))
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@roles_required(*READERS)
def logout() -> ResponseReturnValue:
    """Sign out (a POST, so a link on another site cannot sign anyone out)."""
    if EmptyForm().validate_on_submit():
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
