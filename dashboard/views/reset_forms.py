"""The password-reset forms: the address to send a link to, and the new password (the same
rules as every password the dashboard sets: services/users.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from dashboard.domain.emails import MAX_EMAIL_LENGTH
from dashboard.services.users import MIN_PASSWORD_LENGTH
from dashboard.views.forms import fits_once_normalised, no_control_characters


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "Your email",
        validators=[
            InputRequired(),
            Length(max=MAX_EMAIL_LENGTH),
            no_control_characters,
            fits_once_normalised,
        ],
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[
            InputRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=f"The password must be at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "The new password again",
        validators=[
            InputRequired(),
            EqualTo("password", message="The two passwords are not the same."),
        ],
    )
