"""The HTTP boundary: one commit per request (when its view raised nothing), error pages
(the buyer's own under /pay/), security and caching headers, the signed-in user, the time
zone a person sees times in, and the template filters."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Response,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, user_loaded_from_cookie
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from dashboard import client_environ
from dashboard.domain.money import format_minor
from dashboard.domain.orders import OrderState
from dashboard.domain.time_zones import time_element, time_zone
from dashboard.extensions import db, login_manager
from dashboard.models import User
from dashboard.services import sessions
from dashboard.services.acp.answers import is_agent_api, refusal_response
from dashboard.services.pay_links import redact_pay_links
from dashboard.transactions import end_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# Our payment page loads Stripe.js, which needs its own script, frames and API host.
STRIPE_JS_CSP = (
    "default-src 'self'; script-src 'self' https://js.stripe.com; "
    "frame-src https://js.stripe.com https://hooks.stripe.com; "
    "connect-src 'self' https://api.stripe.com; img-src 'self' data: https://*.stripe.com; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class DashboardApp(Flask):
    """Flask, noting whether a request's view returned (rather than raised): its writes are
    kept only then, whatever status it answers (a refused sign-in is still counted)."""

    def dispatch_request(self) -> ResponseReturnValue:
        answer = super().dispatch_request()
        g.view_returned = True
        return answer

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        client_environ.guard(environ)
        return super().wsgi_app(environ, start_response)

    def log_exception(
        self,
        exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        """As Flask's, without a pay link's token in the path (a log is no place for it)."""
        path = redact_pay_links(request.path)
        self.logger.error(f"Exception on {path} [{request.method}]", exc_info=exc_info)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_json() -> bool:
    return request.path.startswith("/healthz") or request.path.startswith("/webhooks/")


BUYER_PREFIXES = ("/pay/", "/subscribe/", "/billing/")


F = TypeVar("F", bound=Callable[..., Any])


def takes_large_bodies(view: F) -> F:
    """This view takes bodies up to MAX_CONTENT_LENGTH rather than FORM_MAX_BYTES."""
    view.takes_large_bodies = True  # type: ignore[attr-defined]
    return view


def is_buyer_page() -> bool:
    """Under /pay/ (or a subscribe or billing link): a buyer's page, shown without the
    dashboard's staff chrome, never cached."""
    return request.path == "/pay" or request.path.startswith(BUYER_PREFIXES)


# The cookie static/app.js writes with the browser's time zone (an IANA name, or junk).
BROWSER_TIME_ZONE_COOKIE = "browser_time_zone"
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class ViewerTimeZone:
    """The zone a page shows times in, and why: "setting" (the person chose it on their
    account page), "browser" (their browser's, from its cookie) or "default" (UTC)."""

    zone: ZoneInfo
    source: Literal["setting", "browser", "default"]


def viewer_time_zone() -> ViewerTimeZone:
    """The signed-in person's setting, else their browser's zone, else UTC. A name zoneinfo
    does not list, in the cookie or (after a change of the zone data) in the setting, is
    passed over. Buyer pages, and anything rendered outside a request, stay in UTC.

    Worked out once a request (a page writes hundreds of times): the request that changes
    the setting answers with a redirect, so no page is drawn with a zone it has changed."""
    if not has_request_context():
        return ViewerTimeZone(UTC_ZONE, "default")
    if "viewer_time_zone" not in g:
        if is_buyer_page():
            g.viewer_time_zone = ViewerTimeZone(UTC_ZONE, "default")
        else:
            setting = current_user.time_zone if current_user.is_authenticated else None
            g.viewer_time_zone = _viewer_time_zone(
                setting, request.cookies.get(BROWSER_TIME_ZONE_COOKIE)
            )
    found: ViewerTimeZone = g.viewer_time_zone
    return found


def _viewer_time_zone(setting: str | None, cookie: str | None) -> ViewerTimeZone:
    chosen = time_zone(setting)
    if chosen is not None:
        return ViewerTimeZone(chosen, "setting")
    browser = time_zone(cookie)
    if browser is not None:
        return ViewerTimeZone(browser, "browser")
    return ViewerTimeZone(UTC_ZONE, "default")


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The user of the session whose token the cookie carries (services/sessions.py)."""
    return sessions.signed_in_user(token) if isinstance(token, str) else None


@user_loaded_from_cookie.connect
def _bind_remembered_session(_app: Flask, user: User) -> None:
    """A browser brought back by its remember-me cookie: bind its new cookie session to it
    as a sign-in does. Flask-Login leaves the identifier out there, and its "strong"
    protection then signed the browser out again on its second page."""
    session["_id"] = login_manager._session_identifier_generator()


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    """SQLite leaves foreign keys unenforced unless asked, per connection.

    Write-ahead logging: a commit costs one sync of the log instead of the rollback
    journal's several, and the pages a request reads are not blocked by another's write.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


# What a buyer is told where werkzeug's wording is for developers ("Method Not Allowed").
BUYER_ERRORS = {
    404: ("This page does not exist", "Check that you copied the whole payment link."),
    405: ("This page cannot be opened like that", "Use the buttons on the payment page."),
}


def _error_page(code: int, title: str, message: str) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify(error=title, message=message), code
    if is_buyer_page():
        title, message = BUYER_ERRORS.get(code, (title, message))
        token = request.path.removeprefix("/pay").strip("/").split("/", 1)[0]
        page = render_template(
            "pages/pay/error.html", code=code, title=title, message=message, token=token
        )
        return page, code
    return render_template("pages/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @app.after_request
    def commit_or_roll_back(response: Response) -> Response:
        """The one place a request's writes become durable: when no exception escaped its
        view. An error page (404, 500, a refused CSRF token) keeps nothing."""
        end_request(succeeded=g.get("view_returned", False))
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["PREFERRED_URL_SCHEME"] == "https":
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    @app.after_request
    def one_notice_of_each(response: Response) -> Response:
        """A notice not yet shown is kept once: "Sign in to continue." after five pages
        opened while signed out is said once on the sign-in page, and a client that never
        follows the redirects cannot grow its session cookie without end."""
        pending = session.get("_flashes")
        if pending and len(pending) > 1:
            unique = list(dict.fromkeys(tuple(notice) for notice in pending))
            if len(unique) < len(pending):
                session["_flashes"] = unique
        return response

    def bound_the_body() -> None:
        """A form is held to FORM_MAX_BYTES; only a view that takes large bodies (a
        dispute's documents and evidence, Stripe's webhooks, which bound themselves) gets
        the app's MAX_CONTENT_LENGTH. Past it: 413, before the body is read."""
        view = app.view_functions.get(request.endpoint or "")
        if not getattr(view, "takes_large_bodies", False):
            request.max_content_length = app.config["FORM_MAX_BYTES"]

    # First of all the request hooks: CSRF protection's reads the form, under the limit.
    app.before_request_funcs.setdefault(None, []).insert(0, bound_the_body)

    @app.before_request
    def note_who_asked() -> None:
        """Whether the request came signed in: it may sign out before its answer is sent."""
        g.came_signed_in = current_user.is_authenticated

    @app.after_request
    def private_pages_are_not_stored(response: Response) -> Response:
        """Nothing a signed-in person or a pay link's holder sees stays in a browser's or a
        proxy's cache (the back button on a shared computer). Static files hold nothing
        private and stay cacheable."""
        signed_in = g.get("came_signed_in", False) or current_user.is_authenticated
        if request.endpoint != "static" and (is_buyer_page() or signed_in):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[Response | str, int]:
        return _error_page(
            400,
            "The form expired or was not sent by this dashboard",
            "Nothing was changed. Reload the page and try again.",
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> tuple[Response | str, int]:
        view = app.view_functions.get(request.endpoint or "")
        limit = (
            "a dispute's document may be at most 5 MB"
            if getattr(view, "takes_large_bodies", False)
            else "a form may be at most {:,} KB".format(app.config["FORM_MAX_BYTES"] // 1024)
        )
        return _error_page(
            413,
            "Too large to take",
            f"What was sent is larger than the dashboard takes: {limit}. Make it smaller "
            "and try again; nothing was changed.",
        )

    @app.errorhandler(HTTPException)
    def http_error(
        error: HTTPException,
    ) -> tuple[Response | str, int] | HTTPException | Response:
        if error.code is None or error.code < 400:
            return error
        if is_agent_api(request.path):
            return refusal_response(error)
        return _error_page(error.code, error.name, error.description or "")

    @app.errorhandler(InternalServerError)
    def unexpected_error(error: InternalServerError) -> tuple[Response | str, int] | Response:
        """Flask has logged the traceback; the person gets a page without it."""
        db.session.rollback()
        if is_agent_api(request.path):
            return refusal_response(error)
        return _error_page(
            500,
            "Something went wrong on our side",
            "Nothing was changed by this request. Try again in a moment.",
        )

    # Templates compare an order's state with the enum, never with a string of their own.
    app.jinja_env.globals["OrderState"] = OrderState

    @app.template_filter("money")
    def money_filter(amount_minor: int, currency: str) -> str:
        return format_minor(amount_minor, currency)

    @app.template_filter("countdown")
    def countdown_filter(seconds: float) -> str:
        if seconds <= 0:
            return "expired"
        days, rest = divmod(int(seconds), 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        if days:
            return f"{days} d {hours} h left"
        return f"{hours} h {minutes} min left"

    @app.template_filter("when")
    def when_filter(moment: datetime | None) -> Markup:
        """The moment in the viewer's zone, in a <time> that holds it in UTC (shown on hover)."""
        if moment is None:
            return Markup("")
        return Markup(time_element(moment, viewer_time_zone().zone))  # noqa: S704 (see there)
