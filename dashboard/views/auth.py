"""Signing in and out, and the account page (its sessions, "Sign out everywhere", the time
zone times are shown in).

Signing in is steps, each a check that can refuse: the throttle and the password
(services/sign_in.py), then, for a user with two-step sign-in, a code (`/login/code`), or,
when the admin requires one and the user has none, setting one up (`/login/two-step-setup`).
Between the steps the browser holds only a waiting sign-in (services/two_factor/pending.py):
no session, so no other page opens. Only when every step has passed does `_start_session`
open the server-side session.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
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

from dashboard.models import PendingSignIn, User
from dashboard.services import alerts, sessions, sign_in, users
from dashboard.services.two_factor import credentials, pending, requirement
from dashboard.services.two_factor.credentials import TwoFactorError, Verdict
from dashboard.services.two_factor.pending import Step
from dashboard.views.access import READERS, public, roles_required
from dashboard.views.account_page import account_page
from dashboard.views.forms import (
    AlertChoicesForm,
    EmptyForm,
    EnrolForm,
    LoginForm,
    SignInCodeForm,
    TimeZoneForm,
)
from dashboard.views.two_step_pages import recovery_codes_page, setup_page

bp = Blueprint("auth", __name__)

# The cookie-session key of a sign-in waiting for its second step (its token).
PENDING = "sign_in_step"
# Another request finished this waiting sign-in while this one was checking its code.
FINISHED_ELSEWHERE = "This sign-in was just finished in another tab or window: sign in again."
WRONG_CODE = {
    Verdict.WRONG: "That code is not right. Type the 6 digits your app shows now.",
    Verdict.REPLAYED: "That code has been used already: wait for the next one in your app.",
    Verdict.RECOVERY_WRONG: "That recovery code is not one of yours, or it was used already:"
    " each works once.",
    Verdict.UNREADABLE: "Your two-step key cannot be read on this server any more. Ask an"
    " admin to reset your two-step sign-in, then sign in with your password.",
    Verdict.NOT_SET_UP: "Two-step sign-in is no longer on for this account: sign in again.",
}


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, scheme or a protocol-relative URL, and
    nothing a Location header cannot carry (a line break there is a 500, or a header)."""
    fallback = url_for("home.index")
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
        return _throttled("pages/login.html", form, attempt.retry_after)
    if attempt.user is None:
        form.form_errors.append("That email and password do not match an active account.")
        # The failed attempt is kept (this view returned), and counts towards the throttle.
        return render_template("pages/login.html", form=form)
    user, remember = attempt.user, bool(form.remember.data)
    if credentials.has_second_factor(user):
        return _wait_for(user, Step.CODE, remember, "auth.code")
    if requirement.applies_to(user):
        return _wait_for(user, Step.ENROL, remember, "auth.enrol")
    return _start_session(user, remember=remember)


def _wait_for(user: User, step: Step, remember: bool, endpoint: str) -> ResponseReturnValue:
    """The password matched; the sign-in waits for its next step, with no session yet."""
    token = pending.open_pending(
        user, step, remember=remember, max_age=current_app.config["SIGN_IN_STEP_MAX_AGE"]
    )
    session.clear()
    session[PENDING] = token
    return redirect(url_for(endpoint, next=request.args.get("next")), code=303)


def _waiting(step: Step) -> tuple[PendingSignIn, User] | None:
    """This browser's waiting sign-in at this step, or None (with a message: sign in)."""
    try:
        return pending.find(session.get(PENDING), step)
    except pending.Missing:
        flash(
            "That sign-in has expired or was finished already: sign in again"
            f" (the step after the password lasts"
            f" {current_app.config['SIGN_IN_STEP_MAX_AGE'] // 60} minutes).",
            "info",
        )
        return None


def _back_to_login() -> ResponseReturnValue:
    return redirect(url_for("auth.login", next=request.args.get("next")), code=303)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def code() -> ResponseReturnValue:
    """The second step: a code from the authenticator app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    waiting = _waiting(Step.CODE)
    if waiting is None:
        return _back_to_login()
    row, user = waiting
    form = SignInCodeForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/sign_in_code.html", form=form), status
    config = current_app.config
    outcome = sign_in.under_throttle(
        user.email,
        request.remote_addr or "unknown",
        lambda: credentials.check(user, form.code.data or ""),
        max_failures=config["LOGIN_MAX_FAILURES"],
        window_seconds=config["LOGIN_FAILURE_WINDOW"],
    )
    if isinstance(outcome, sign_in.Throttled):
        return _throttled("pages/sign_in_code.html", form, outcome.retry_after)
    if not outcome.passed:
        form.form_errors.append(WRONG_CODE[outcome.verdict])
        return render_template("pages/sign_in_code.html", form=form)
    try:
        pending.complete(row)
    except pending.Missing:
        abort(409, description=FINISHED_ELSEWHERE)  # raised: the code's use is rolled back
    signed_in = _start_session(user, remember=row.remember)
    if outcome.used_recovery:  # after the start, which empties the cookie session
        flash(
            f"You signed in with a recovery code; {outcome.recovery_left} left. Make new ones"
            " on your account page before they run out.",
            "info",
        )
    return signed_in


@bp.route("/login/two-step-setup", methods=["GET", "POST"])
@public
def enrol() -> ResponseReturnValue:
    """Setting up two-step sign-in before the first session, where the admin requires it."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    waiting = _waiting(Step.ENROL)
    if waiting is None:
        return _back_to_login()
    row, user = waiting
    action = url_for("auth.enrol", next=request.args.get("next"))
    form = EnrolForm()
    if request.method == "GET" or not form.enrolment.data:
        return setup_page(
            credentials.start_enrolment(user),
            EnrolForm(formdata=None),
            action=action,
            required_role=user.role,
        )
    try:
        enrolment = credentials.enrolment_from(user, form.enrolment.data)
    except TwoFactorError as error:
        fresh = EnrolForm(formdata=None)
        fresh.form_errors.append(str(error))
        return setup_page(
            credentials.start_enrolment(user),
            fresh,
            action=action,
            required_role=user.role,
            status=422,
        )
    if not form.validate_on_submit():
        return setup_page(enrolment, form, action=action, required_role=user.role, status=422)
    try:
        recovery = credentials.confirm_enrolment(user, enrolment, form.code.data or "")
        pending.complete(row)
    except TwoFactorError as error:
        form.form_errors.append(str(error))
        return setup_page(enrolment, form, action=action, required_role=user.role, status=422)
    except pending.Missing:
        abort(409, description=FINISHED_ELSEWHERE)  # raised: the new key is rolled back
    _start_session(user, remember=row.remember)
    return recovery_codes_page(recovery, continue_to=safe_next(request.args.get("next")))


def _throttled(template: str, form: Any, retry_after: int) -> ResponseReturnValue:
    minutes = math.ceil(retry_after / 60)
    form.form_errors.append(
        f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes > 1 else ''},"
        " then try again."
    )
    return render_template(template, form=form), 429, {"Retry-After": str(retry_after)}


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
    """Who is signed in, their open sessions, "Sign out everywhere", their time zone."""
    return account_page()


@bp.route("/account/time-zone", methods=["POST"])
@roles_required(*READERS)
def time_zone() -> ResponseReturnValue:
    """Choose the zone the dashboard shows one's times in, or go back to the browser's."""
    form = TimeZoneForm()
    if not form.validate_on_submit():
        return account_page(status=422, time_zone_form=form)
    users.set_time_zone(current_user._get_current_object(), form.time_zone.data or None)
    chosen = form.time_zone.data
    flash(
        f"Times now show in {chosen}." if chosen else "Times now show in your browser's time zone.",
        "success",
    )
    return redirect(url_for("auth.account") + "#time-zone", code=303)


@bp.route("/account/alerts", methods=["POST"])
@roles_required(*READERS)
def alert_choices() -> ResponseReturnValue:
    """Choose which alert emails one gets."""
    form = AlertChoicesForm()
    if not form.validate_on_submit():
        return account_page(status=422, alerts_form=form)
    alerts.choose(current_user._get_current_object(), form.enabled())
    flash("Your alert emails are saved.", "success")
    return redirect(url_for("auth.account") + "#alerts", code=303)


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
