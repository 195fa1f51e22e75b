"""An htmx request whose session ended leaves the page for the login page (issue 12, item 5).

Without this the 302 of `login_required` is followed inside the XMLHttpRequest and htmx swaps
the whole login page into the live box that asked (the charge result, the intent panel).
"""

import pytest
from django.test import Client
from django.urls import reverse

from transactions.models import Intent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_polled_box_of_an_ended_session_gets_a_redirect_to_login_not_the_login_page(
    client, payment_a
):
    url = reverse("dashboard:intent_live", args=[payment_a.public_id])
    page = "http://testserver/terminales/x/?vista=1"
    response = client.get(url, HTTP_HX_CURRENT_URL=page, **HTMX)
    assert response.status_code == 200
    # Back to the page the person was on, not to the fragment's URL.
    assert response.headers["HX-Redirect"] == "/login/?next=%2Fterminales%2Fx%2F%3Fvista%3D1"
    body = response.content.decode()
    assert "Tu sesión terminó" in body
    assert 'name="password"' not in body  # never the login form inside a box
    assert "no-store" in response.headers["Cache-Control"]


def test_an_htmx_post_of_an_ended_session_is_redirected_and_changes_nothing(client, terminal_a):
    url = reverse("dashboard:terminal_charge", args=[terminal_a.public_id])
    response = client.post(url, {"amount": "100"}, HTTP_HX_CURRENT_URL="", **HTMX)
    assert response.headers["HX-Redirect"] == "/login/?next=%2F"
    assert not Intent.objects.exists()


def test_a_page_of_another_site_is_not_the_next_page(client, payment_a):
    url = reverse("dashboard:intent_panel", args=[payment_a.public_id])
    response = client.get(url, HTTP_HX_CURRENT_URL="https://evil.example/x", **HTMX)
    assert response.headers["HX-Redirect"] == "/login/?next=%2F"


def test_without_htmx_the_ordinary_redirect_stays(client, payment_a):
    response = client.get(reverse("dashboard:intent_detail", args=[payment_a.public_id]))
    assert response.status_code == 302
    assert "HX-Redirect" not in response.headers


def test_a_signed_in_htmx_request_is_answered_as_usual(client_for, manager_a, payment_a):
    response = client_for(manager_a).get(
        reverse("dashboard:intent_live", args=[payment_a.public_id]), **HTMX
    )
    assert response.status_code == 200
    assert "HX-Redirect" not in response.headers
    assert "intent-live" in response.content.decode()


def test_logout_in_another_tab_ends_the_live_box_too(manager_a, payment_a):
    """The issue's case: signed in, then signed out elsewhere; the next poll is sent away."""
    client = Client()
    client.force_login(manager_a)
    url = reverse("dashboard:intent_live", args=[payment_a.public_id])
    assert "HX-Redirect" not in client.get(url, **HTMX).headers
    client.post(reverse("logout"))
    assert client.get(url, **HTMX).headers["HX-Redirect"].startswith("/login/")
