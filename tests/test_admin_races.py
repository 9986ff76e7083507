"""Two admins acting at the same instant, through a real server: the last active admin
stays, and a user created twice at once exists once, the second admin told so.

On SQLite and PostgreSQL. Everything is real: a served app (a thread per request, each
with its own database connection) and one browser per admin, posting together.
"""

from __future__ import annotations

import re
from functools import partial

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Role, User
from tests.support.app import serve
from tests.support.concurrency import Browser, all_at_once, signed_in_browser

RACES = 8
LOSER_HEARS = (
    "This is the last active admin; make another admin first.",
    "You are no longer an active admin; nothing was changed.",
    "Sign in to continue.",
)


def active_admins(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(User.email).where(User.role == "admin", User.active.is_(True))
            )
        )


def reset_admins(app, emails) -> None:
    with app.app_context():
        for user in db.session.scalars(select(User).where(User.email.in_(emails))):
            user.role, user.active = "admin", True
        db.session.commit()


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+" role="status">([^<]*)</p>', page)


def act(browser: Browser, path: str, data: dict[str, str] | None = None) -> str:
    """Post a form, follow the redirect, and say what the page then says."""
    answer = browser.http.post(
        browser.base + path, data={**(data or {}), "csrf_token": browser.token}, timeout=60
    )
    assert answer.status_code == 200, answer.status_code
    return " ".join(flashes(answer.text))


ACTIONS = {
    "demote": ("/admin/users/{id}/role", {"role": "staff"}, "{email} is now staff."),
    "deactivate": ("/admin/users/{id}/deactivate", {}, "{email} is deactivated."),
}


@pytest.mark.parametrize(
    ("first", "second"),
    [("demote", "demote"), ("deactivate", "deactivate"), ("demote", "deactivate")],
)
def test_two_admins_removing_each_other_at_once_leave_one_admin(app, make_user, first, second):
    admins = [make_user(Role.ADMIN, f"admin{n}@shop.example", quick_hash=True) for n in (1, 2)]
    emails = [admin.email for admin in admins]
    with serve(app) as base:
        for _ in range(RACES):
            reset_admins(app, emails)
            browsers = [signed_in_browser(base, email) for email in emails]
            for browser in browsers:
                browser.get("/admin/users")
            moves = []
            for browser, action, other in zip(browsers, (first, second), admins[::-1], strict=True):
                path, data, _ = ACTIONS[action]
                moves.append(partial(act, browser, path.format(id=other.id), data))
            said = all_at_once(moves)
            for browser in browsers:
                browser.close()

            assert len(active_admins(app)) == 1, said
            winner = emails.index(active_admins(app)[0])
            loser = 1 - winner
            # The winner removed the loser. The loser was refused: as the winner was the last
            # admin left, or as the loser no longer was one, or (arriving after the winner's
            # commit) signed out, its sessions ended with its role.
            won_action, lost_action = (first, second)[winner], (first, second)[loser]
            assert ACTIONS[won_action][2].format(email=emails[loser]) in said[winner]
            assert ACTIONS[lost_action][2].format(email=emails[winner]) not in said[loser]
            assert any(refusal in said[loser] for refusal in LOSER_HEARS), said[loser]


def test_an_admin_and_the_cli_removing_each_other_at_once_leave_one_admin(app, make_user):
    """The command line acts as no one (no admin to be demoted meanwhile): here the guard
    that refuses is the last admin's, whoever waits for the other."""
    web_admin, cli_target = (
        make_user(Role.ADMIN, f"admin{n}@shop.example", quick_hash=True) for n in (1, 2)
    )
    cli = app.test_cli_runner()
    with serve(app) as base:
        for _ in range(RACES):
            reset_admins(app, [web_admin.email, cli_target.email])
            browser = signed_in_browser(base, web_admin.email)
            browser.get("/admin/users")
            said, result = all_at_once(
                [
                    partial(act, browser, f"/admin/users/{cli_target.id}/role", {"role": "staff"}),
                    partial(cli.invoke, args=["user", "set-role", web_admin.email, "support"]),
                ]
            )
            browser.close()

            assert len(active_admins(app)) == 1, (said, result.output)
            if active_admins(app) == [web_admin.email]:
                assert f"{cli_target.email} is now staff." in said
                assert result.exit_code == 1
                assert LOSER_HEARS[0] in result.output
            else:
                assert f"{web_admin.email} is now support." in result.output
                assert any(refusal in said for refusal in LOSER_HEARS), said


def test_the_same_user_created_by_two_admins_at_once_exists_once(app, make_user):
    admins = [make_user(Role.ADMIN, f"admin{n}@shop.example", quick_hash=True) for n in (1, 2)]
    with serve(app) as base:
        for race in range(RACES // 2):
            browsers = [signed_in_browser(base, admin.email) for admin in admins]
            for browser in browsers:
                browser.get("/admin/users")
            email = f"new{race}@shop.example"
            form = {"email": email, "role": "staff", "password": "a long enough password"}
            answers = all_at_once([partial(b.post, "/admin/users", form) for b in browsers])
            for browser in browsers:
                browser.close()

            assert sorted(a.status_code for a in answers) == [303, 422], answers
            (refused,) = [a for a in answers if a.status_code == 422]
            assert f"A user with the email {email} already exists." in refused.text
            assert f'value="{email}"' in refused.text  # what was typed is kept
            with app.app_context():
                assert len(db.session.scalars(select(User).where(User.email == email)).all()) == 1
