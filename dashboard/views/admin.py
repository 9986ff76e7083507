"""Admin: user accounts and roles."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.extensions import db
from dashboard.models import Role, User
from dashboard.services import users
from dashboard.views.access import ADMINS, roles_required
from dashboard.views.forms import EmptyForm, RoleForm, UserCreateForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(create_form: UserCreateForm | None = None) -> str:
    return render_template(
        "pages/admin/users.html",
        users=users.list_users(),
        create_form=create_form or UserCreateForm(formdata=None),
        action_form=EmptyForm(),
        role_choices=list(Role),
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
