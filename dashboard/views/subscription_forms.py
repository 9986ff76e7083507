"""The subscription pages' forms: a new plan, a buyer's subscribe link, the sandbox's test
cards on the subscribe page. The plan's rules themselves are domain.subscriptions'."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from dashboard.domain.emails import MAX_EMAIL_LENGTH
from dashboard.domain.money import SUPPORTED_CURRENCIES
from dashboard.domain.subscriptions import MAX_PLAN_NAME
from dashboard.payments.localstripe_compat import SANDBOX_CARDS
from dashboard.views.forms import fits_once_normalised, no_control_characters


class PlanForm(FlaskForm):
    name = StringField(
        "Plan name (the buyer sees it)",
        validators=[DataRequired(), Length(max=MAX_PLAN_NAME), no_control_characters],
    )
    price = StringField(
        "Price each time (major units, e.g. 12.50)", validators=[DataRequired(), Length(max=20)]
    )
    currency = SelectField(
        "Currency", choices=[SelectChoice(code, code) for code in SUPPORTED_CURRENCIES]
    )
    interval = SelectField(
        "Billed every", choices=[SelectChoice("month", "month"), SelectChoice("year", "year")]
    )
    interval_count = StringField(
        "Number of months or years between bills",
        default="1",
        validators=[DataRequired(), Length(max=4)],
    )


class SubscribeLinkForm(FlaskForm):
    email = EmailField(
        "Buyer email",
        validators=[
            DataRequired(),
            Email(check_deliverability=False),
            Length(max=MAX_EMAIL_LENGTH),
            fits_once_normalised,
        ],
    )
    name = StringField(
        "Buyer name (optional)", validators=[Optional(), Length(max=200), no_control_characters]
    )


class SubscribeCardForm(FlaskForm):
    card = RadioField(
        "Test card",
        choices=[
            SelectChoice(key, f"{number} · {label}")
            for key, (number, label) in SANDBOX_CARDS.items()
        ],
        default="success",
    )
