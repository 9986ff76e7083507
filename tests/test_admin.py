"""The admin's user page: list, create, change role, deactivate."""

import re

from dashboard.models import Role
from tests.support.web import login, post_form


def user_id(page, email):
    pattern = (
        r'action="/admin/users/(\d+)/role"[^>]*>\s*<input[^>]*>\s*'
        rf'<select name="role" aria-label="Role of {re.escape(email)}"'
    )
    return int(re.search(pattern, page).group(1))


def test_admin_manages_users_from_the_page(app, signed_in):
    admin = signed_in(Role.ADMIN)
    response = post_form(
        admin,
        "/admin/users",
        {"email": "new@shop.example", "role": "support", "password": "a long enough password"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Created new@shop.example (support)." in page
    new_id = user_id(page, "new@shop.example")

    page = post_form(
        admin, f"/admin/users/{new_id}/role", {"role": "staff"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "new@shop.example is now staff." in page

    page = post_form(admin, f"/admin/users/{new_id}/deactivate", follow_redirects=True).get_data(
        as_text=True
    )
    assert "new@shop.example is deactivated." in page
    assert login(app.test_client(), "new@shop.example", "a long enough password").status_code == 200

    post_form(admin, f"/admin/users/{new_id}/reactivate")
    assert login(app.test_client(), "new@shop.example", "a long enough password").status_code == 302


def test_create_user_form_errors_keep_input_and_write_nothing(signed_in):
    admin = signed_in(Role.ADMIN)
    response = post_form(
        admin, "/admin/users", {"email": "x@shop.example", "role": "staff", "password": "short"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "at least 12 characters" in page
    assert 'value="x@shop.example"' in page
    assert "x@shop.example</td>" not in page


def test_duplicate_user_is_refused_on_the_page(signed_in):
    admin = signed_in(Role.ADMIN)
    response = post_form(
        admin,
        "/admin/users",
        {"email": "ADMIN@shop.example", "role": "staff", "password": "a long enough password"},
    )
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_admin_cannot_deactivate_themselves_or_demote_the_last_admin(signed_in):
    admin = signed_in(Role.ADMIN)
    page = admin.get("/admin/users").get_data(as_text=True)
    own_id = user_id(page, "admin@shop.example")
    page = post_form(admin, f"/admin/users/{own_id}/deactivate", follow_redirects=True).get_data(
        as_text=True
    )
    assert "You cannot deactivate your own account." in page
    page = post_form(
        admin, f"/admin/users/{own_id}/role", {"role": "staff"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "last active admin" in page
    assert admin.get("/admin/users").status_code == 200


def test_unknown_user_and_bad_role_are_clear_errors(signed_in):
    admin = signed_in(Role.ADMIN)
    assert post_form(admin, "/admin/users/999999/deactivate").status_code == 404
    page = admin.get("/admin/users").get_data(as_text=True)
    own_id = user_id(page, "admin@shop.example")
    assert post_form(admin, f"/admin/users/{own_id}/role", {"role": "owner"}).status_code == 400
