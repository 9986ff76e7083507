"""Health checks and what people see when the database is down."""

import pytest

from dashboard import create_app
from tests.support.app import base_config

UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-directory/for/sure/dashboard.sqlite",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2",
}


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


@pytest.fixture(params=sorted(UNREACHABLE))
def app_without_database(request, tmp_path):
    config = {**base_config(UNREACHABLE[request.param]), "TESTING": False}
    return create_app(config, instance_path=str(tmp_path))


def test_healthz_is_503_when_the_database_is_down(app_without_database):
    response = app_without_database.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unavailable"}


def test_database_down_gives_a_500_page_without_a_traceback(app_without_database):
    client = app_without_database.test_client()
    from tests.support.web import csrf_token

    token = csrf_token(client)
    response = client.post(
        "/login", data={"email": "a@shop.example", "password": "x" * 12, "csrf_token": token}
    )
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page
    assert "OperationalError" not in page
    assert "nonexistent-directory" not in page and "127.0.0.1:1" not in page
