"""`flask user ...`: account management from the command line."""

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import PendingSignIn, RecoveryCode, Role, TwoFactorCredential, User
from tests.support.database import count
from tests.support.two_factor import sign_in_with_code
from tests.support.web import PASSWORD, login, post_form


@pytest.fixture
def cli(app):
    """`flask ...` commands of the plain test app (conftest's `runner` is the sandbox's)."""
    return app.test_cli_runner()


def create(cli, email, role="staff", password=PASSWORD):
    return cli.invoke(
        args=["user", "create", email, "--role", role, "--password-stdin"], input=password + "\n"
    )


def test_create_user_from_stdin_then_sign_in(app, cli):
    result = create(cli, "New@Shop.example", "support")
    assert result.exit_code == 0, result.output
    assert "Created new@shop.example (support)." in result.output
    assert PASSWORD not in result.output
    assert login(app.test_client(), "new@shop.example").status_code == 302


def test_create_user_with_prompted_password(app, cli):
    result = cli.invoke(
        args=["user", "create", "p@shop.example", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User.role).where(User.email == "p@shop.example")) == "admin"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["user", "create", "a@shop.example", "--role", "boss", "--password-stdin"],
            PASSWORD,
            "boss",
        ),
        (["user", "create", "a@shop.example", "--password-stdin"], PASSWORD, "--role"),
        (
            ["user", "create", "a@shop.example", "--role", "staff", "--password-stdin"],
            "short",
            "12",
        ),
        (["user", "create", "not-email", "--role", "staff", "--password-stdin"], PASSWORD, "email"),
        (["user", "set-role", "ghost@shop.example", "admin"], "", "There is no user"),
        (["user", "deactivate", "ghost@shop.example"], "", "There is no user"),
    ],
)
def test_bad_arguments_fail_with_a_message_and_write_nothing(app, cli, args, stdin, message):
    result = cli.invoke(args=args, input=stdin + "\n")
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalars(select(User)).all() == []


def test_duplicate_email_is_refused(cli):
    assert create(cli, "dup@shop.example").exit_code == 0
    result = create(cli, "DUP@shop.example")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_set_role_deactivate_reactivate_and_list(app, cli):
    create(cli, "admin@shop.example", "admin")
    create(cli, "s@shop.example", "staff")
    assert cli.invoke(args=["user", "set-role", "s@shop.example", "support"]).exit_code == 0
    assert cli.invoke(args=["user", "deactivate", "s@shop.example"]).exit_code == 0
    listing = cli.invoke(args=["user", "list"]).output
    assert "s@shop.example\tsupport\tdeactivated" in listing
    assert "admin@shop.example\tadmin\tactive" in listing
    assert login(app.test_client(), "s@shop.example").status_code == 200  # refused
    assert cli.invoke(args=["user", "reactivate", "s@shop.example"]).exit_code == 0
    assert login(app.test_client(), "s@shop.example").status_code == 302


def test_last_admin_cannot_be_demoted_or_deactivated(cli):
    create(cli, "only@shop.example", "admin")
    for args in (
        ["user", "set-role", "only@shop.example", "staff"],
        ["user", "deactivate", "only@shop.example"],
    ):
        result = cli.invoke(args=args)
        assert result.exit_code == 1
        assert "last active admin" in result.output
    create(cli, "second@shop.example", "admin")
    assert cli.invoke(args=["user", "set-role", "only@shop.example", "staff"]).exit_code == 0


def test_roles_are_the_three_documented(cli):
    assert {role.value for role in Role} == {"admin", "staff", "support"}


def test_the_cli_resets_a_users_second_step_and_ends_their_sessions(app, cli, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    assert sign_in_with_code(client, user.email, user.recovery_codes[0]).status_code == 302
    waiting = app.test_client()
    post_form(waiting, "/login", {"email": user.email, "password": PASSWORD})
    result = cli.invoke(args=["user", "reset-2fa", user.email.upper()])
    assert result.exit_code == 0, result.output
    assert f"Two-step sign-in removed for {user.email}; 1 session ended." in result.output
    assert user.secret not in result.output
    assert client.get("/orders").status_code == 302  # signed out
    assert count(app, TwoFactorCredential) == 0
    assert count(app, RecoveryCode) == 0
    assert count(app, PendingSignIn) == 0
    # The old codes are gone with it; the password alone signs in now.
    assert post_form(waiting, "/login/code", {"code": user.recovery_codes[1]}).status_code == 303
    assert login(app.test_client(), user.email).status_code == 302


def test_the_cli_reset_of_an_unknown_user_says_so(app, cli):
    result = cli.invoke(args=["user", "reset-2fa", "ghost@shop.example"])
    assert result.exit_code == 1
    assert "There is no user ghost@shop.example." in result.output
