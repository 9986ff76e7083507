"""Input parsing for every form: what a person typed becomes typed values or messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from dashboard.domain.alerts import AlertKind
from dashboard.domain.emails import MAX_EMAIL_LENGTH, normalize_email
from dashboard.domain.ids import MAX_ROW_ID
from dashboard.domain.money import MAX_AMOUNT_MINOR, SUPPORTED_CURRENCIES, MoneyError, parse_major
from dashboard.domain.orders import MAX_QUANTITY, LineDraft
from dashboard.domain.time_zones import time_zone, zone_names
from dashboard.models import Role
from dashboard.payments.localstripe_compat import SANDBOX_CARDS
from dashboard.services.payments.review import REFUND_REASONS, VOID_REASONS
from dashboard.services.saved_cards import CONSENT_TEXT
from dashboard.services.two_factor.codes import DIGITS, RECOVERY_EXAMPLE, Kind, read_code
from dashboard.services.users import MIN_PASSWORD_LENGTH, UNKNOWN_TIME_ZONE

ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in Role]
# The most lines an order takes. A form with more is shown back whole, with a message.
MAX_LINES = 50
# C0/C1 controls (NUL, which PostgreSQL cannot store, escape sequences, line breaks) and
# the bidi overrides and isolates that make a name read backwards on the order list.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def no_control_characters(_form: Any, field: Any) -> None:
    """One line of visible text: what a person typed, without invisible controls."""
    if CONTROL_CHARACTERS.search(field.data or ""):
        raise ValidationError("Remove the control characters (invisible or line-break ones).")


def fits_once_normalised(_form: Any, field: Any) -> None:
    """Addresses are stored normalised (dashboard/domain/emails.py), and NFKC can lengthen
    one (U+FDFA is 18 letters): the column's limit holds for what would be stored."""
    if len(normalize_email(field.data or "")) > MAX_EMAIL_LENGTH:
        raise ValidationError(
            f"An email address has at most {MAX_EMAIL_LENGTH} characters once normalised."
        )


class EmptyForm(FlaskForm):
    """CSRF only: for action buttons."""


class LoginForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired(),
            Length(max=MAX_EMAIL_LENGTH),
            no_control_characters,
            fits_once_normalised,
        ],
    )
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in on this device")


def a_code(_form: Any, field: Any) -> None:
    """Six digits from the app, or a recovery code: anything else is not worth checking."""
    if read_code(field.data or "") is None:
        raise ValidationError(
            f"Type the {DIGITS}-digit code your app shows, or one of your recovery codes "
            f"(like {RECOVERY_EXAMPLE})."
        )


def an_app_code(_form: Any, field: Any) -> None:
    typed = read_code(field.data or "")
    if typed is None or typed.kind is not Kind.TOTP:
        raise ValidationError(f"Type the {DIGITS}-digit code your app shows now.")


class SignInCodeForm(FlaskForm):
    """The second step of signing in."""

    code = StringField("Code", validators=[InputRequired(), Length(max=64), a_code])


class EnrolForm(FlaskForm):
    """Setting up an authenticator: the set-up's sealed key, and a code from it."""

    enrolment = HiddenField(validators=[InputRequired(), Length(max=1024)])
    code = StringField(
        "Code from your app", validators=[InputRequired(), Length(max=64), an_app_code]
    )


class ConfirmIdentityForm(FlaskForm):
    """Asked before changing one's second step: the password, or a code from the app."""

    secret = PasswordField(
        "Your password, or a code from your app", validators=[InputRequired(), Length(max=1024)]
    )


class TurnOffTwoStepForm(ConfirmIdentityForm):
    confirm = BooleanField(
        "Yes, turn off two-step sign-in for my account",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )


class TwoStepRequirementForm(FlaskForm):
    required = HiddenField(validators=[InputRequired()])
    confirm = BooleanField(
        "Yes, I have read what this changes",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )

    def validate_required(self, field: Any) -> None:
        if field.data not in ("on", "off"):
            raise ValidationError("Choose on or off.")


def _time_zone_choices() -> list[SelectChoice]:
    named = (SelectChoice(name, name.replace("_", " ")) for name in zone_names())
    return [SelectChoice("", "Use my browser's time zone"), *named]


class TimeZoneForm(FlaskForm):
    """The zone the dashboard shows one's times in; blank: the browser's."""

    time_zone = SelectField("Time zone", choices=_time_zone_choices, validate_choice=False)

    def validate_time_zone(self, field: Any) -> None:
        """One of the list's zones, or blank; not a name the list does not offer."""
        if not field.raw_data or (field.data and time_zone(field.data) is None):
            raise ValidationError(UNKNOWN_TIME_ZONE)


class AlertChoicesForm(FlaskForm):
    """Which alert emails one gets (domain/alerts.py); a box left unticked is a "no"."""

    hold_expiring = BooleanField(AlertKind.HOLD_EXPIRING.label)
    hold_lapsed = BooleanField(AlertKind.HOLD_LAPSED.label)
    dispute_opened = BooleanField(AlertKind.DISPUTE_OPENED.label)
    event_failing = BooleanField(AlertKind.EVENT_FAILING.label)
    renewal_failed = BooleanField(AlertKind.RENEWAL_FAILED.label)

    def enabled(self) -> frozenset[AlertKind]:
        return frozenset(kind for kind in AlertKind if self[kind.value].data)


class OrderLineForm(Form):
    """One line; all blank means "no line here", partly filled is an error."""

    description = StringField(
        "Description", validators=[Optional(), Length(max=500), no_control_characters]
    )
    quantity = StringField("Quantity", validators=[Optional(), Length(max=12)])
    unit_price = StringField("Unit price", validators=[Optional(), Length(max=32)])

    def is_blank(self) -> bool:
        return not any(
            (field.data or "").strip()
            for field in (self.description, self.quantity, self.unit_price)
        )


class OrderLines(FieldList):
    """The order form's lines: every line the form sent is read (werkzeug's limit on form
    fields bounds how many), so one over MAX_LINES is shown back, never dropped."""

    def _extract_indices(self, prefix: str, formdata: Any) -> Iterator[int]:
        # WTForms' own takes any str.isdigit() index ("²" too) to int(), a 500.
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split("-", 1)[0]
                if index.isascii() and index.isdigit() and len(index) <= 6:
                    yield int(index)


class OrderForm(FlaskForm):
    buyer_name = StringField(
        "Buyer name", validators=[InputRequired(), Length(max=200), no_control_characters]
    )
    buyer_email = EmailField(
        "Buyer email",
        validators=[
            InputRequired(),
            Email(),
            Length(max=MAX_EMAIL_LENGTH),
            no_control_characters,
            fits_once_normalised,
        ],
    )
    currency = SelectField(
        "Currency", choices=[SelectChoice(code) for code in SUPPORTED_CURRENCIES], default="USD"
    )
    lines = OrderLines(FormField(OrderLineForm), min_entries=1)
    add_line = SubmitField("Add a line")
    submit = SubmitField("Create order")

    line_drafts: list[LineDraft]
    max_lines = MAX_LINES

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)
        self.line_drafts = []
        currency = self.currency.data or ""
        for entry in self.lines:
            line: OrderLineForm = entry.form
            if line.is_blank():
                continue
            draft = self._parse_line(line, currency)
            if draft is None:
                ok = False
            else:
                self.line_drafts.append(draft)
        if not self.line_drafts and not any(entry.form.errors for entry in self.lines):
            self.lines.errors.append("Add at least one line with a description and a price.")
            ok = False
        if self._filled_lines() > MAX_LINES:
            self.lines.errors.append(self.no_room_message())
            ok = False
        return ok

    def _filled_lines(self) -> int:
        return sum(not entry.form.is_blank() for entry in self.lines)

    @property
    def room_for_a_line(self) -> bool:
        return len(self.lines) < MAX_LINES

    def no_room_message(self) -> str:
        filled = self._filled_lines()
        if filled > MAX_LINES:
            return (
                f"An order takes at most {MAX_LINES} lines; this one has {filled}. Remove "
                f"{filled - MAX_LINES}, or split it into two orders."
            )
        return f"An order takes at most {MAX_LINES} lines: there is no room for another."

    @staticmethod
    def _parse_line(line: OrderLineForm, currency: str) -> LineDraft | None:
        description = (line.description.data or "").strip()
        if not description:
            line.description.errors.append("Describe what is sold.")
        quantity_text = (line.quantity.data or "").strip() or "1"
        is_number = quantity_text.isascii() and quantity_text.isdigit()
        quantity = int(quantity_text) if is_number and len(quantity_text) < 8 else 0
        if not 1 <= quantity <= MAX_QUANTITY:
            line.quantity.errors.append(f"A whole number from 1 to {MAX_QUANTITY:,}.")
        unit_amount = None
        try:
            unit_amount = parse_major(line.unit_price.data or "", currency)
        except MoneyError as error:
            line.unit_price.errors.append(str(error))
        if line.description.errors or line.quantity.errors or unit_amount is None:
            return None
        return LineDraft(description=description, quantity=quantity, unit_amount=unit_amount)


class UserCreateForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[InputRequired(), Email(), Length(max=MAX_EMAIL_LENGTH), fits_once_normalised],
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.STAFF.value)
    password = PasswordField(
        "Password",
        validators=[
            InputRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=f"The password must be at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
    )


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class CaptureForm(FlaskForm):
    amount = StringField("Amount to capture", validators=[InputRequired(), Length(max=32)])


class VoidForm(FlaskForm):
    reason = SelectField("Reason", choices=[SelectChoice(k, v) for k, v in VOID_REASONS.items()])


class RefundForm(FlaskForm):
    # Empty at first: "Refund all" is its own button, never a prefilled amount.
    amount = StringField("Amount to refund", validators=[Optional(), Length(max=32)])
    reason = SelectField("Reason", choices=[SelectChoice(k, v) for k, v in REFUND_REASONS.items()])
    refund_all = BooleanField("Refund all")


class ConfirmForm(FlaskForm):
    """A reviewed money action, confirmed: what was reviewed, and the amount the review's
    sentence was computed from (a changed order is asked about again)."""

    amount = IntegerField(
        "Amount", validators=[Optional(), NumberRange(min=1, max=MAX_AMOUNT_MINOR)]
    )
    reason = StringField("Reason", validators=[Optional(), Length(max=32)])
    basis = IntegerField(
        "Basis", validators=[InputRequired(), NumberRange(min=0, max=MAX_AMOUNT_MINOR)]
    )


class PaymentMethodForm(FlaskForm):
    method = SelectField(
        "How the buyer pays",
        choices=[
            SelectChoice("checkout", "Stripe Checkout (Stripe's page)"),
            SelectChoice("payment_page", "Our payment page (card form)"),
        ],
    )


class PayForm(FlaskForm):
    """Starting a payment on the pay page. The box is unticked: the card is kept only when
    the buyer ticks it."""

    keep_card = BooleanField(CONSENT_TEXT, default=False)


class SandboxCardForm(PayForm):
    # Radio buttons: the pay page renders each choice as its own input with its label.
    card = RadioField(
        "Test card",
        choices=[
            SelectChoice(key, f"{number} · {label}")
            for key, (number, label) in SANDBOX_CARDS.items()
        ],
        default="success",
    )


class BadListQuery(ValueError):
    """A list page's query parameter it cannot use: the page says so (the message says what
    it takes) instead of listing anything."""


def cursor_arg(name: str) -> int | None:
    """A keyset cursor from the query string (a row id), or None; BadListQuery if it is not
    one."""
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise BadListQuery(
            f"This page link is broken: its {name} cursor must be a whole number. "
            "Start again from the newest."
        )
    return min(int(raw), MAX_ROW_ID + 1)


def search_arg(max_length: int) -> str:
    """The `q` search text, stripped; BadListQuery if no search can use it."""
    text = request.args.get("q", "").strip()
    if len(text) > max_length:
        raise BadListQuery(
            f"A search is at most {max_length} characters; this one has {len(text):,}."
        )
    if "\x00" in text:
        raise BadListQuery("Search without the NUL character (\\0): no record contains one.")
    return text
