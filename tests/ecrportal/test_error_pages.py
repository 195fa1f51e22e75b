"""403, 404 and 500 in Spanish, inside the site's layout with its navigation (issue 12, item 10).

The 403 shows the reason the dashboard computed ("Tu rol no permite: Cerrar lote."), not a bare
English "403 Forbidden".
"""

import pytest
from django.test import Client, override_settings
from django.urls import include, path, reverse

from tests.factories import make_intent
from transactions.states import State

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("boom/", _boom),
    path("", include("ecrportal.urls")),
]
handler500 = "ecrportal.error_views.server_error"


def test_a_refused_action_shows_the_role_reason_in_the_layout(client_for, cashier_a, terminal_a):
    response = client_for(cashier_a).post(
        reverse("dashboard:batch_close_terminal", args=[terminal_a.public_id])
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "Tu rol no permite: Cerrar lote." in body
    assert "Forbidden" not in body
    assert 'aria-label="Principal"' in body  # the navigation
    assert "Cajero" in body  # the signed-in person, as on every page
    assert 'lang="es-AR"' in body


def test_a_refused_reversal_says_which_action(client_for, cashier_a, store_a, terminal_a):
    payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    response = client_for(cashier_a).post(
        reverse("dashboard:intent_reverse", args=[payment.public_id])
    )
    assert response.status_code == 403
    assert "Tu rol no permite: Anular." in response.content.decode()


def test_a_missing_page_is_spanish_with_navigation(client_for, manager_a):
    response = client_for(manager_a).get("/no-existe/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "No encontramos esta página" in body
    assert 'aria-label="Principal"' in body
    assert reverse("dashboard:intent_list") in body


def test_a_missing_page_for_an_anonymous_person_offers_the_login(client):
    body = client.get("/no-existe/").content.decode()
    assert "No encontramos esta página" in body
    assert reverse("login") in body


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_is_spanish_with_navigation_and_says_not_to_charge_again(manager_a):
    client = Client(raise_request_exception=False)
    client.force_login(manager_a)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Algo falló en el portal" in body
    assert "no repitas el cobro" in body
    assert 'aria-label="Principal"' in body


def test_the_project_uses_the_500_page_with_the_request():
    from ecrportal import urls

    assert urls.handler500 == "ecrportal.error_views.server_error"


def test_an_expired_form_is_explained_in_spanish(manager_a, terminal_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager_a)
    response = client.post(reverse("dashboard:terminal_charge", args=[terminal_a.public_id]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "El formulario venció" in body
    assert "No se hizo nada" in body


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_on_an_htmx_request_is_a_fragment_for_the_problem_bar(manager_a):
    """Swapped into a live box, a whole error page would nest the layout and stop the polling:
    app.js shows this fragment in the problem bar instead (ECR-Problem)."""
    client = Client(raise_request_exception=False)
    client.force_login(manager_a)
    response = client.get("/boom/", headers={"HX-Request": "true", "HX-Current-URL": "/x/?a=1"})
    assert response.status_code == 500
    assert response.headers["ECR-Problem"] == "1"
    body = response.content.decode()
    assert "no repitas el cobro" in body
    assert 'href="/x/?a=1"' in body  # reload the page the person was on
    assert 'aria-label="Principal"' not in body  # a fragment, not the layout


def test_an_expired_form_on_an_htmx_request_is_a_fragment_and_changes_nothing(
    manager_a, terminal_a
):
    from transactions.models import Intent

    client = Client(enforce_csrf_checks=True)
    client.force_login(manager_a)
    response = client.post(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]),
        {"amount": "1500"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert response.headers["ECR-Problem"] == "1"
    body = response.content.decode()
    assert "el formulario venció" in body
    assert 'aria-label="Principal"' not in body
    assert not Intent.objects.exists()


def test_every_page_has_the_hidden_problem_bar(client_for, manager_a):
    body = client_for(manager_a).get(reverse("dashboard:home")).content.decode()
    assert 'id="request-problem"' in body
    assert 'role="alert"' in body
