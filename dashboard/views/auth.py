"""Signing in and out, and the account page (its sessions, "Sign out everywhere").

Signing in is steps, each a check that can refuse: today the throttle and the password
(services/sign_in.py). Only when all have passed does `_start_session` open the server-side
session; a second step (a one-time code) goes between the password check and that call.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from dashboard.models import User
from dashboard.services import sessions, sign_in
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
    attempt = sign_in.attempt(
        form.email.data or "",
        form.password.data or "",
        request.remote_addr or "unknown",
        max_failures=current_app.config["LOGIN_MAX_FAILURES"],
        window_seconds=current_app.config["LOGIN_FAILURE_WINDOW"],
    )
    if attempt.throttled:
        minutes = math.ceil(attempt.retry_after / 60)
        form.form_errors.append(
            f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes > 1 else ''},"
            " then try again."
        )
        page = render_template("pages/login.html", form=form)
        return page, 429, {"Retry-After": str(attempt.retry_after)}
    if attempt.user is None:
        form.form_errors.append("That email and password do not match an active account.")
        # The failed attempt is kept (this view returned), and counts towards the throttle.
        return render_template("pages/login.html", form=form)
    return _start_session(attempt.user, remember=bool(form.remember.data))


def _start_session(user: User, *, remember: bool) -> ResponseReturnValue:
    """Every step of signing in has passed: a new server-side session, its token in the
    browser's cookies, for SESSION_MAX_AGE (REMEMBER_ME_MAX_AGE when remembered).

    The cookie session starts empty: nothing a visitor had (or was planted with) before
    signing in carries over, the CSRF token least of all; the next page gets a new one.
    """
    config = current_app.config
    next_page = safe_next(request.args.get("next"))
    session.clear()
    g.pop(config["WTF_CSRF_FIELD_NAME"], None)  # Flask-WTF's copy for this request
    sessions.open_session(
        user,
        remember=remember,
        remote_addr=request.remote_addr or "unknown",
        max_age=config["REMEMBER_ME_MAX_AGE" if remember else "SESSION_MAX_AGE"],
    )
    login_user(user, remember=remember)
    return redirect(next_page)


def _end_browser_session() -> None:
    """Sign this browser out, its cookie session emptied (a new CSRF token with it)."""
    session.clear()
    logout_user()  # after the clear: it marks the remember-me cookie for deletion


@bp.route("/logout", methods=["POST"])
@roles_required(*READERS)
def logout() -> ResponseReturnValue:
    """Sign out (a POST, so a link on another site cannot sign anyone out): this session
    ends on the server, for every copy of its cookies."""
    if EmptyForm().validate_on_submit():
        sessions.end_session(current_user.get_id())
        _end_browser_session()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account")
@roles_required(*READERS)
def account() -> ResponseReturnValue:
    """Who is signed in, their open sessions, and "Sign out everywhere"."""
    user: User = current_user._get_current_object()
    return render_template(
        "pages/account.html",
        sessions=sessions.sessions_of(user),
        this_session=sessions.token_hash(user.get_id()),
        form=EmptyForm(),
    )


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@roles_required(*READERS)
def sign_out_everywhere() -> ResponseReturnValue:
    """End every session of the signed-in user, this one included."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("auth.account"), code=303)
    sessions.end_all_sessions(current_user._get_current_object())
    _end_browser_session()
    flash("You are signed out on every browser and device.", "info")
    return redirect(url_for("auth.login"), code=303)
