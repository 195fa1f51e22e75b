"""Login is rate limited per username and per address, and lands on "Hoy"."""

import pytest
from django.core.cache import cache

from tests.factories import DEFAULT_PASSWORD
from transactions.dashboard.auth import MAX_FAILURES, MAX_FAILURES_PER_ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_login_lands_on_home(client, manager_a):
    response = client.post("/login/", {"username": "encargado_a", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.url == "/"


def test_too_many_failures_lock_the_username(client, manager_a):
    for _ in range(MAX_FAILURES):
        response = client.post("/login/", {"username": "encargado_a", "password": "mal"})
        assert response.status_code == 200
    response = client.post("/login/", {"username": "encargado_a", "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "Demasiados intentos fallidos" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_too_many_failures_lock_the_address_for_any_username(client, manager_a, cashier_a):
    for i in range(MAX_FAILURES):
        client.post("/login/", {"username": f"nadie{i}", "password": "mal"})
    # A few failures from one address (a shop behind NAT) do not lock its other people out...
    ok = client.post("/login/", {"username": "cajero_a", "password": DEFAULT_PASSWORD})
    assert ok.status_code == 302
    client.post("/logout/")
    for i in range(MAX_FAILURES_PER_ADDRESS):
        client.post("/login/", {"username": f"otro{i}", "password": "mal"})
    # ...but spraying many accounts from it does.
    response = client.post("/login/", {"username": "cajero_a", "password": DEFAULT_PASSWORD})
    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_address(client, manager_a, settings):
    settings.ECR_TRUSTED_PROXY_COUNT = 1
    for i in range(MAX_FAILURES_PER_ADDRESS):
        client.post(
            "/login/",
            {"username": f"x{i}", "password": "mal"},
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    other_client = client.post(
        "/login/",
        {"username": "encargado_a", "password": DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert other_client.status_code == 302, "the proxy's own address is not what is limited"
    spoofed = client.post(
        "/login/",
        {"username": "encargado_a", "password": DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9",
    )
    assert spoofed.status_code == 429, "a forged left-most entry does not escape the limit"


def test_a_success_clears_the_username_counter(client, manager_a):
    for _ in range(MAX_FAILURES - 1):
        client.post("/login/", {"username": "encargado_a", "password": "mal"})
    ok = client.post("/login/", {"username": "encargado_a", "password": DEFAULT_PASSWORD})
    assert ok.status_code == 302


def test_a_user_locked_out_at_login_is_locked_out_of_the_admin_too(client):
    from tests.factories import make_user

    make_user("jefa", is_staff=True, is_superuser=True)
    for _ in range(MAX_FAILURES):
        client.post("/login/", {"username": "jefa", "password": "mal"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "jefa", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, "the admin's form is shown again, no redirect"
    assert "_auth_user_id" not in client.session


def test_failures_at_the_admin_count_towards_the_same_limit(client):
    from tests.factories import make_user

    make_user("jefa", is_staff=True, is_superuser=True)
    for _ in range(MAX_FAILURES):
        client.post("/admin/login/?next=/admin/", {"username": "jefa", "password": "mal"})
    response = client.post("/login/", {"username": "jefa", "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
