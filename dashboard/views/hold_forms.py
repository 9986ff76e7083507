"""Forms for what goes beyond one capture: several captures, releasing the rest, a larger
hold, and which card features new payments ask for (the shop's and one order's)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from dashboard.services.card_requests import FLAGS, IF_AVAILABLE, NEVER

_ASK = [SelectChoice(IF_AVAILABLE, "Ask, if the card allows it"), SelectChoice(NEVER, "Never ask")]
# For one order: "" follows the shop's setting.
_ASK_FOR_ORDER = [SelectChoice("", "As the shop's setting"), *_ASK]


class PartialCaptureForm(FlaskForm):
    amount = StringField(
        "Amount to capture now (the rest stays held)",
        validators=[InputRequired(), Length(max=32)],
    )


class IncrementForm(FlaskForm):
    amount = StringField("New total of the hold", validators=[InputRequired(), Length(max=32)])


class ReleaseForm(FlaskForm):
    """Release what is still held: nothing to type, confirmed on the next step."""


class CardRequestsForm(FlaskForm):
    """The shop's choice: what every new payment asks of the card."""

    request_extended_authorization = SelectField(
        FLAGS["request_extended_authorization"], choices=_ASK
    )
    request_incremental_authorization = SelectField(
        FLAGS["request_incremental_authorization"], choices=_ASK
    )
    request_multicapture = SelectField(FLAGS["request_multicapture"], choices=_ASK)
    request_overcapture = SelectField(FLAGS["request_overcapture"], choices=_ASK)


class OrderCardRequestsForm(FlaskForm):
    """One order's choice, before its payment starts."""

    request_extended_authorization = SelectField(
        FLAGS["request_extended_authorization"], choices=_ASK_FOR_ORDER, default=""
    )
    request_incremental_authorization = SelectField(
        FLAGS["request_incremental_authorization"], choices=_ASK_FOR_ORDER, default=""
    )
    request_multicapture = SelectField(
        FLAGS["request_multicapture"], choices=_ASK_FOR_ORDER, default=""
    )
    request_overcapture = SelectField(
        FLAGS["request_overcapture"], choices=_ASK_FOR_ORDER, default=""
    )


def chosen(form: CardRequestsForm | OrderCardRequestsForm) -> dict[str, str]:
    return {flag: str(getattr(form, flag).data or "") for flag in FLAGS}
