"""The forms of the product catalog and of AI agents (the admin's): what a person typed,
handed to domain/catalog.py and services/agents.py, which say what is wrong with it."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from dashboard.domain.catalog import (
    MAX_DESCRIPTION_LENGTH,
    MAX_ID_LENGTH,
    MAX_TITLE_LENGTH,
    ProductDraft,
    ProductError,
    parse_product,
    price_text,
)
from dashboard.domain.money import SUPPORTED_CURRENCIES
from dashboard.models import Product
from dashboard.services.agents import MAX_NAME_LENGTH, MAX_RATE_LIMIT, MAX_URL_LENGTH
from dashboard.views.forms import no_control_characters


class ProductForm(FlaskForm):
    id = StringField("Product id", validators=[InputRequired(), Length(max=MAX_ID_LENGTH)])
    title = StringField(
        "Title", validators=[InputRequired(), Length(max=MAX_TITLE_LENGTH), no_control_characters]
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=MAX_DESCRIPTION_LENGTH)]
    )
    price = StringField("Unit price", validators=[InputRequired(), Length(max=32)])
    currency = SelectField(
        "Currency", choices=[SelectChoice(code) for code in SUPPORTED_CURRENCIES], default="USD"
    )
    stock = StringField("Stock (empty: not counted)", validators=[Optional(), Length(max=12)])

    draft: ProductDraft

    @classmethod
    def of(cls, product: Product) -> ProductForm:
        """The form filled with a product as stored, its price as a person types it."""
        return cls(
            formdata=None,
            data={
                "id": product.id,
                "title": product.title,
                "description": product.description,
                "price": price_text(product.unit_amount, product.currency),
                "currency": product.currency,
                "stock": "" if product.stock is None else str(product.stock),
            },
        )

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)
        if not ok:
            return False
        try:
            self.draft = parse_product(
                id=self.id.data or "",
                title=self.title.data or "",
                price=self.price.data or "",
                currency=self.currency.data or "",
                description=self.description.data or "",
                stock=self.stock.data or "",
            )
        except ProductError as error:
            self.show(error)
            return False
        return True

    def show(self, error: ProductError) -> None:
        """Each problem beside its field."""
        for name, message in error.problems.items():
            getattr(self, name).errors.append(message)


class AgentForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired(), Length(max=MAX_NAME_LENGTH), no_control_characters]
    )
    webhook_url = URLField(
        "Webhook URL (order events are sent here)",
        validators=[InputRequired(), Length(max=MAX_URL_LENGTH)],
    )
    signing_key = StringField(
        "Request-signing key (optional: the agent's HMAC key for its Signature header)",
        validators=[Optional(), Length(max=512)],
    )
    rate_limit = IntegerField(
        "Requests per minute",
        validators=[Optional(), NumberRange(min=1, max=MAX_RATE_LIMIT)],
    )


class RevokeAgentForm(FlaskForm):
    confirm = BooleanField(
        "I understand: this agent's checkout requests are refused from now on, for good.",
        validators=[InputRequired(message="Tick the box to revoke the key.")],
    )


class ProductPickerForm(FlaskForm):
    """ "Add a product" on the order form: a line filled from the catalog. Part of the
    order form's own <form>, whose CSRF token it shares."""

    class Meta:
        csrf = False

    product = SelectField("Product", choices=[], validate_choice=False)
    add_product = SubmitField("Add product as a line")

    def offer(self, products: list[Product]) -> None:
        self.product.choices = [
            SelectChoice(p.id, f"{p.title} · {p.price_display} ({p.id})") for p in products
        ]
