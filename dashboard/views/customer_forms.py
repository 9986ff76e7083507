"""The forms of the customer pages and the buyer's "save a card" page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from dashboard.payments.localstripe_compat import SANDBOX_CARDS
from dashboard.services.card_setup import CONSENT_TEXT


class SaveCardForm(FlaskForm):
    """The buyer's consent, required: no card is saved without the box ticked."""

    consent = BooleanField(
        CONSENT_TEXT, validators=[InputRequired("Tick the box to let the shop keep the card.")]
    )


class SandboxSaveCardForm(SaveCardForm):
    card = RadioField(
        "Test card",
        choices=[
            SelectChoice(key, f"{number} · {label}")
            for key, (number, label) in SANDBOX_CARDS.items()
        ],
        default="success",
    )
