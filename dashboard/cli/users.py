"""`flask user …`: create accounts, list them, change a role or a password, deactivate and
reactivate, and reset a lost second step (two-step sign-in)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from dashboard.cli import command
from dashboard.models import Role, User
from dashboard.services import users
from dashboard.services.two_factor import credentials

ROLE = click.Choice([role.value for role in Role])

group = AppGroup("user", help="Manage dashboard accounts.")


def _user_or_fail(email: str) -> User:
    user = users.find_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no user {email}.")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        users.check_password_strength(password)
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    return password


@command("create", group)
@click.argument("email")
@click.option("--role", type=ROLE, required=True, help="admin, staff or support")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account (the password is prompted for unless --password-stdin)."""
    password = _read_password(password_stdin)
    try:
        user = users.create_user(email, password, Role(role))
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.email} ({user.role}).")


@command("list", group)
def user_list() -> None:
    """Every account, its role and whether it can sign in."""
    for user in users.list_users():
        click.echo(f"{user.email}\t{user.role}\t{'active' if user.active else 'deactivated'}")


@command("set-role", group)
@click.argument("email")
@click.argument("role", type=ROLE)
def user_set_role(email: str, role: str) -> None:
    """Change an account's role."""
    user = _user_or_fail(email)
    try:
        users.set_role(user, Role(role))
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{user.email} is now {user.role}.")


@command("set-password", group)
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_set_password(email: str, password_stdin: bool) -> None:
    """Give an account a new password (prompted for unless --password-stdin); its sessions
    end."""
    user = _user_or_fail(email)
    try:
        users.set_password(user, _read_password(password_stdin))
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"New password set for {user.email}; its sessions are ended.")


@command("deactivate", group)
@click.argument("email")
def user_deactivate(email: str) -> None:
    """Stop an account from signing in."""
    _set_active(email, active=False)


@command("reactivate", group)
@click.argument("email")
def user_reactivate(email: str) -> None:
    """Let a deactivated account sign in again."""
    _set_active(email, active=True)


def _set_active(email: str, *, active: bool) -> None:
    user = _user_or_fail(email)
    try:
        users.set_active(user, active)
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{user.email} is {'active' if active else 'deactivated'}.")


@command("reset-2fa", group)
@click.argument("email")
def user_reset_two_factor(email: str) -> None:
    """Remove an account's two-step sign-in (a lost phone): its key and recovery codes go,
    and its sessions end."""
    user = _user_or_fail(email)
    had = credentials.has_second_factor(user)
    ended = credentials.reset(user)
    state = "removed" if had else "was not set up; nothing to remove"
    click.echo(
        f"Two-step sign-in {state} for {user.email}; {ended} session{'' if ended == 1 else 's'}"
        " ended. They sign in with their password and can set it up again (at once, if it is"
        " required for their role)."
    )
