"""Admin: user accounts and roles, whether staff and admins must use two-step sign-in, and
which card features new payments ask for."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.extensions import db
from dashboard.models import Role, User
from dashboard.services import card_requests, users
from dashboard.services.two_factor import credentials, requirement
from dashboard.services.two_factor.credentials import TwoFactorError
from dashboard.views.access import ADMINS, roles_required
from dashboard.views.forms import EmptyForm, RoleForm, TwoStepRequirementForm, UserCreateForm
from dashboard.views.hold_forms import CardRequestsForm, chosen

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(
    create_form: UserCreateForm | None = None,
    requirement_form: TwoStepRequirementForm | None = None,
    card_form: CardRequestsForm | None = None,
) -> str:
    return render_template(
        "pages/admin/users.html",
        users=users.list_users(),
        create_form=create_form or UserCreateForm(formdata=None),
        action_form=EmptyForm(),
        role_choices=list(Role),
        two_step_users=credentials.users_with_second_factor(),
        two_step_required=requirement.is_on(),
        requirement_form=requirement_form or TwoStepRequirementForm(formdata=None),
        card_form=card_form or CardRequestsForm(formdata=None, data=card_requests.shop_requests()),
    )


def _user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id, description=f"There is no user {user_id}.")


@bp.route("/users")
@roles_required(*ADMINS)
def user_list() -> ResponseReturnValue:
    """Every account with its role and whether it can sign in."""
    return _page()


@bp.route("/users", methods=["POST"])
@roles_required(*ADMINS)
def user_create() -> ResponseReturnValue:
    """Create an account with a role and a first password."""
    form = UserCreateForm()
    if not form.validate_on_submit():
        return _page(form), 422
    try:
        user = users.create_user(
            form.email.data or "", form.password.data or "", Role(form.role.data)
        )
    except users.UserError as error:
        form.form_errors.append(str(error))
        return _page(form), 422
    flash(f"Created {user.email} ({user.role}).", "success")
    return redirect(url_for("admin.user_list"), code=303)


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles_required(*ADMINS)
def user_role(user_id: int) -> ResponseReturnValue:
    """Change a user's role."""
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400, description="Choose one of the roles.")
    try:
        users.set_role(user, Role(form.role.data), by=current_user._get_current_object())
    except users.UserError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.user_list"), code=303)
    flash(f"{user.email} is now {user.role}.", "success")
    return redirect(url_for("admin.user_list"), code=303)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required(*ADMINS)
def user_deactivate(user_id: int) -> ResponseReturnValue:
    """Stop a user from signing in; their history stays."""
    return _set_active(user_id, active=False)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@roles_required(*ADMINS)
def user_reactivate(user_id: int) -> ResponseReturnValue:
    """Let a deactivated user sign in again."""
    return _set_active(user_id, active=True)


def _set_active(user_id: int, *, active: bool) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        users.set_active(user, active, by=current_user._get_current_object())
    except users.UserError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.user_list"), code=303)
    flash(f"{user.email} {'can sign in again' if active else 'is deactivated'}.", "success")
    return redirect(url_for("admin.user_list"), code=303)


@bp.route("/two-step-requirement", methods=["POST"])
@roles_required(*ADMINS)
def two_step_requirement() -> ResponseReturnValue:
    """Require two-step sign-in of staff and admins, or stop requiring it."""
    form = TwoStepRequirementForm()
    if not form.validate_on_submit():
        return _page(requirement_form=form), 422
    required = form.required.data == "on"
    try:
        ended = requirement.set_required(required, by=current_user._get_current_object())
    except TwoFactorError as error:
        form.form_errors.append(str(error))
        return _page(requirement_form=form), 422
    if required:
        flash(
            "Two-step sign-in is now required for staff and admins."
            f" {ended} session{'' if ended == 1 else 's'} of people without it ended;"
            " they set it up when they next sign in.",
            "success",
        )
    else:
        flash("Two-step sign-in is no longer required; those who have it keep it.", "success")
    return redirect(url_for("admin.user_list"), code=303)


@bp.route("/card-requests", methods=["POST"])
@roles_required(*ADMINS)
def card_requests_setting() -> ResponseReturnValue:
    """Choose what every new payment asks of the card (staff may change it per order)."""
    form = CardRequestsForm()
    if not form.validate_on_submit():
        return _page(card_form=form), 422
    card_requests.set_shop_requests(chosen(form), by=current_user._get_current_object())
    flash("Saved: new payments ask the card for what you chose.", "success")
    return redirect(url_for("admin.user_list"), code=303)
