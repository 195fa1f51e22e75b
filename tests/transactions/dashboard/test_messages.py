"""Messages that say what happened and what to do, in the dashboard's voice (issue 12, item 12):
the provider out of reach said once without an exception name, the repeated terminal number,
the login error in voseo, dates as dd/mm/aaaa, "Hasta" before "Desde", readable tab titles,
htmx loaded once, a favicon."""

import re

import httpx
import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions.gateway import client as gateway_client
from transactions.labels import PROVIDER_UNREACHABLE_MESSAGE
from transactions.models import Intent
from transactions.states import State

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_prisma(credential):
    """The credential's gateway with a network that refuses every connection."""

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    gateway = gateway_client.PrismaGateway(
        credential, transport=httpx.MockTransport(refuse), sleep=lambda _s: None
    )
    gateway_client._gateways[credential.pk] = gateway
    yield
    gateway_client.reset_gateways()


def test_prisma_out_of_reach_is_said_once_with_what_to_do(
    client_for, manager_a, terminal_a, unreachable_prisma
):
    response = client_for(manager_a).post(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]),
        {"amount": "1500", "installments": "1", "method": "card"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert body.count("No se pudo contactar a Prisma") == 1
    assert PROVIDER_UNREACHABLE_MESSAGE in body
    assert "no se cobró nada" in body and "Probá de nuevo" in body
    assert "ConnectError" not in body
    assert "No se pudo conectar con Prisma" not in body  # the gateway's words stay in the history
    assert Intent.objects.get().state == State.FAILED


def test_a_repeated_terminal_number_is_explained_in_plain_spanish(
    client_for, owner, store_a, terminal_a
):
    response = client_for(owner).post(
        reverse("dashboard:terminal_create"),
        {"store": store_a.pk, "terminal_id": terminal_a.terminal_id, "label": "Caja 2"},
    )
    body = response.content.decode()
    assert "Esa terminal ya está cargada en el portal" in body
    assert "Ya existe un/a" not in body


def test_a_wrong_password_is_said_in_voseo(client, manager_a):
    response = client.post(reverse("login"), {"username": "encargado_a", "password": "mal"})
    body = response.content.decode()
    assert "El usuario o la contraseña no son correctos" in body
    assert "Revisalos" in body
    assert "Por favor" not in body and "introduzca" not in body


def test_a_bad_report_date_shows_the_local_format(client_for, owner, store_a):
    body = client_for(owner).get(reverse("dashboard:daily_report") + "?fecha=ayer").content
    text = body.decode()
    assert "dd/mm/aaaa" in text
    assert not re.search(r"por ejemplo \d{4}-\d{2}-\d{2}", text)


def test_hasta_before_desde_is_a_form_error_not_an_empty_list(client_for, manager_a, payment_a):
    response = client_for(manager_a).get(
        reverse("dashboard:intent_list") + "?date_from=2026-11-10&date_to=2026-11-01"
    )
    body = response.content.decode()
    assert "«Hasta» (01/11/2026) es anterior a «Desde» (10/11/2026)" in body
    assert "data-filter-error" in body
    # The list's own count, not the navigation badge's label ("0 operaciones requieren atención").
    assert not re.search(r">\s*0 operaciones\s*<", body)


def test_the_intent_tab_title_says_what_how_much_and_how_it_stands(
    client_for, manager_a, payment_a
):
    body = (
        client_for(manager_a)
        .get(reverse("dashboard:intent_detail", args=[payment_a.public_id]))
        .content.decode()
    )
    title = re.search(r"<title>(.*?)</title>", body, re.S).group(1)
    assert title.startswith("Cobro $ 1.234,56 · Aprobada")
    assert str(payment_a.public_id)[:8] not in title


def test_htmx_is_loaded_once_and_there_is_a_favicon(
    client, client_for, manager_a, store_a, terminal_a
):
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    signed_in = client_for(manager_a)
    pages = [
        signed_in.get(reverse("dashboard:home")),
        signed_in.get(reverse("dashboard:terminal_detail", args=[terminal_a.public_id])),
        client.get(reverse("login")),
    ]
    for response in pages:
        text = response.content.decode()
        assert text.count("js/htmx.min.js") == 1, response.request["PATH_INFO"]
        assert 'rel="icon"' in text and "favicon.svg" in text
        # A {# #} comment spans one line only; a longer one is printed on the page.
        assert "{#" not in text and "#}" not in text


def test_a_repeated_store_code_says_what_to_do(client_for, owner, merchant, store_a):
    response = client_for(owner).post(
        reverse("dashboard:store_create"),
        {
            "merchant": merchant.pk,
            "name": "Otra",
            "code": store_a.code,
            "time_zone": "America/Argentina/Cordoba",
            "environment": store_a.environment,
            "batch_close_hour": "22",
            "pending_timeout_seconds": "120",
        },
    )
    body = response.content.decode()
    assert "Ese código ya lo usa otra sucursal. Elegí otro" in body
    assert "Ya existe un/a" not in body
