"""The pages of two-step sign-in that two blueprints show: setting up an authenticator (on
the account page, and during a sign-in that requires it) and the recovery codes, shown once.
Both hold secrets: never cached, never sent as a referrer."""

from __future__ import annotations

from flask import make_response, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from dashboard.services.two_factor import codes
from dashboard.services.two_factor.credentials import Enrolment
from dashboard.views.forms import EnrolForm


def _private(page: str, status: int = 200) -> ResponseReturnValue:
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def setup_page(
    enrolment: Enrolment,
    form: EnrolForm,
    *,
    action: str,
    required_role: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The QR code (inline SVG, made here from the otpauth:// URI), the key as text, and
    the code that confirms it; `required_role` when the sign-in cannot finish without it."""
    form.enrolment.data = enrolment.token
    page = render_template(
        "pages/two_step/setup.html",
        form=form,
        # segno's markup: black modules and our title; no text a user typed is in it.
        qr_svg=Markup(enrolment.qr_svg),  # noqa: S704
        secret=enrolment.grouped_secret,
        issuer=codes.ISSUER,
        action=action,
        required_role=required_role,
    )
    return _private(page, status)


def recovery_codes_page(recovery_codes: list[str], *, continue_to: str) -> ResponseReturnValue:
    page = render_template(
        "pages/two_step/recovery_codes.html",
        recovery_codes=recovery_codes,
        continue_to=continue_to,
    )
    return _private(page)
