import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ingresar" in body
    assert "csrfmiddlewaretoken" in body
    assert "<script>" not in body  # the CSP forbids inline scripts


def test_login_works(client, manager_a, store_a):
    response = client.post(
        reverse("login"), {"username": "encargado_a", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == resolve_url(settings.LOGIN_REDIRECT_URL)
    assert client.session["_auth_user_id"] == str(manager_a.pk)
    body = client.get(reverse("dashboard:home")).content.decode()
    assert "Sucursal A" in body
    assert "Encargado" in body  # the user's name in the header


def test_wrong_password_is_refused(client, manager_a):
    response = client.post(reverse("login"), {"username": "encargado_a", "password": "otra"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_ends_the_session(client_for, manager_a):
    client = client_for(manager_a)
    page = client.get(reverse("dashboard:home")).content.decode()
    assert f'action="{reverse("logout")}"' in page and 'method="post"' in page

    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert client.get(reverse("dashboard:home")).status_code == 302
