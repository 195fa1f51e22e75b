"""Every page with every persona: what each one sees, and what is outside their scope (404)."""

import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions.states import State

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "manager_a", "cashier_a", "finance"]


@pytest.fixture
def persona(request):
    return request.getfixturevalue(request.param)


def test_anonymous_is_sent_to_login(client, terminal_a, payment_a):
    for url in [
        reverse("dashboard:home"),
        reverse("dashboard:terminal_detail", args=[terminal_a.public_id]),
        reverse("dashboard:intent_detail", args=[payment_a.public_id]),
        reverse("dashboard:intent_list"),
        reverse("dashboard:batch_index"),
        reverse("dashboard:settings"),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_home_is_at_the_root():
    assert reverse("dashboard:home") == "/"


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_home_shows_todays_totals_of_the_users_stores(client_for, persona, payment_a):
    response = client_for(persona).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sucursal A" in body
    assert "$ 1.234,56" in body
    assert "Caja A1" in body
    assert "Content-Security-Policy" in response.headers
    # htmx is served by us, not a CDN, and carries the CSRF token for every request.
    assert "/static/js/htmx.min.js" in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_home_of_a_store_manager_hides_other_stores(client_for, manager_a, payment_a, payment_b):
    body = client_for(manager_a).get("/").content.decode()
    assert "Sucursal A" in body
    assert "Sucursal B" not in body
    assert "$ 500,00" not in body


def test_home_of_the_owner_shows_every_store(client_for, owner, payment_a, payment_b):
    body = client_for(owner).get("/").content.decode()
    assert "Sucursal A" in body and "Sucursal B" in body


def test_home_of_an_outsider_is_empty(client_for, outsider, payment_a):
    body = client_for(outsider).get("/").content.decode()
    assert "No tenés sucursales asignadas" in body
    assert "$ 1.234,56" not in body


def test_home_lists_what_needs_a_person_in_red(client_for, manager_a, store_a, terminal_a):
    stuck = make_intent(store_a, terminal=terminal_a, state="in_doubt", amount="77.00")
    body = client_for(manager_a).get("/").content.decode()
    assert "Requiere una persona" in body
    assert str(stuck.public_id) in body


def test_home_net_subtracts_reversals_and_refunds(
    client_for, owner, store_a, terminal_a, payment_a
):
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        kind="reversal",
        original=payment_a,
        amount=None,
    )
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, kind="refund", amount="34.56")
    make_intent(store_a, terminal=terminal_a, state="declined", amount="99.00")
    body = client_for(owner).get("/").content.decode()
    section = body.split('id="store-')[1]
    assert '<span class="tile-value" data-kpi="approved-amount">$ 1.234,56</span>' in section
    assert '<span class="tile-value" data-kpi="reversal-amount">$ 1.234,56</span>' in section
    assert '<span class="tile-value" data-kpi="refund-amount">$ 34,56</span>' in section
    assert '<span class="tile-value" data-kpi="net">-$ 34,56</span>' in section


# --- Terminal page ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "can_charge"),
    [("owner", True), ("manager_a", True), ("cashier_a", True), ("finance", False)],
    indirect=["persona"],
)
def test_terminal_page(client_for, persona, can_charge, terminal_a, payment_a):
    url = reverse("dashboard:terminal_detail", args=[terminal_a.public_id])
    response = client_for(persona).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "11111111" in body
    assert ('data-action="charge"' in body) is can_charge
    assert str(payment_a.public_id) in body  # today's intents of the terminal


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a", "outsider"])
def test_terminal_outside_scope_is_404(client_for, persona, request, terminal_b):
    user = request.getfixturevalue(persona)
    for name in ["terminal_detail", "terminal_live", "terminal_today", "terminal_charge"]:
        url = reverse(f"dashboard:{name}", args=[terminal_b.public_id])
        assert client_for(user).get(url).status_code == 404


def test_terminal_live_partial(client_for, cashier_a, terminal_a):
    url = reverse("dashboard:terminal_live", args=[terminal_a.public_id])
    response = client_for(cashier_a).get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'data-terminal-state="idle"' in response.content.decode()


# --- Intent page ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "reverse_shown", "refund_shown"),
    [
        ("owner", True, True),
        ("manager_a", True, True),
        ("cashier_a", False, False),
        ("finance", False, False),
    ],
    indirect=["persona"],
)
def test_intent_page_shows_only_the_allowed_buttons(
    client_for, persona, reverse_shown, refund_shown, payment_a
):
    url = reverse("dashboard:intent_detail", args=[payment_a.public_id])
    response = client_for(persona).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "$ 1.234,56" in body
    assert payment_a.authorization_code in body
    assert f"•••• {payment_a.card_last_four}" in body
    assert "Historia" in body and "payment_create" in body  # events and gateway calls
    assert ('data-action="reverse"' in body) is reverse_shown
    assert ('data-action="refund"' in body) is refund_shown


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a", "outsider"])
def test_intent_outside_scope_is_404(client_for, persona, request, payment_b):
    user = request.getfixturevalue(persona)
    for name in ["intent_detail", "intent_panel", "intent_live"]:
        url = reverse(f"dashboard:{name}", args=[payment_b.public_id])
        assert client_for(user).get(url).status_code == 404


def test_in_doubt_intent_offers_resolve_to_manager_not_cashier(
    client_for, manager_a, cashier_a, store_a, terminal_a
):
    doubt = make_intent(store_a, terminal=terminal_a, state="in_doubt", amount="50.00")
    url = reverse("dashboard:intent_detail", args=[doubt.public_id])
    assert 'data-action="resolve"' in client_for(manager_a).get(url).content.decode()
    assert 'data-action="resolve"' not in client_for(cashier_a).get(url).content.decode()


def test_pending_intent_polls_and_final_does_not(
    client_for, cashier_a, store_a, terminal_a, payment_a
):
    pending = make_intent(store_a, terminal=terminal_a, state="pending", provider_id="p-1")
    live = client_for(cashier_a).get(reverse("dashboard:intent_detail", args=[pending.public_id]))
    assert 'hx-trigger="every 1s"' in live.content.decode()
    assert 'data-action="cancel"' in live.content.decode()
    final = client_for(cashier_a).get(
        reverse("dashboard:intent_detail", args=[payment_a.public_id])
    )
    assert 'hx-trigger="every 1s"' not in final.content.decode()


def test_reversal_is_explained_when_the_batch_is_closed(
    client_for, manager_a, payment_a, terminal_a, store_a
):
    from django.utils import timezone

    from transactions.models import Batch

    settlement = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, kind="settlement", amount=None
    )
    Batch.objects.create(
        terminal=terminal_a, batch_number=1, settlement=settlement, closed_at=timezone.now()
    )
    body = (
        client_for(manager_a)
        .get(reverse("dashboard:intent_detail", args=[payment_a.public_id]))
        .content.decode()
    )
    assert 'data-action="reverse"' not in body
    assert 'data-action="refund"' in body


# --- Batches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "can_close"),
    [("owner", True), ("manager_a", True), ("cashier_a", False), ("finance", False)],
    indirect=["persona"],
)
def test_batch_page(client_for, persona, can_close, terminal_a, store_a):
    from django.utils import timezone

    from transactions.models import Batch

    settlement = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, kind="settlement", amount=None
    )
    batch = Batch.objects.create(
        terminal=terminal_a,
        batch_number=7,
        settlement=settlement,
        closed_at=timezone.now(),
        closing_ticket="CIERRE DE LOTE 7\nTOTAL VISA 1.000,00",
    )
    client = client_for(persona)
    body = client.get(reverse("dashboard:batch_index")).content.decode()
    assert ('data-action="close-store"' in body) is can_close
    assert str(batch.public_id) in body
    detail = client.get(reverse("dashboard:batch_detail", args=[batch.public_id]))
    assert detail.status_code == 200
    assert "CIERRE DE LOTE 7" in detail.content.decode()


def test_batch_of_another_store_is_404(client_for, manager_a, terminal_b, store_b):
    from django.utils import timezone

    from transactions.models import Batch

    settlement = make_intent(
        store_b, terminal=terminal_b, state=State.APPROVED, kind="settlement", amount=None
    )
    batch = Batch.objects.create(
        terminal=terminal_b, batch_number=3, settlement=settlement, closed_at=timezone.now()
    )
    url = reverse("dashboard:batch_detail", args=[batch.public_id])
    assert client_for(manager_a).get(url).status_code == 404


@pytest.mark.parametrize(
    ("persona", "shown"),
    [("owner", True), ("manager_a", False), ("cashier_a", False), ("finance", False)],
    indirect=["persona"],
)
def test_settings_link_only_for_owners(client_for, persona, shown, store_a):
    body = client_for(persona).get("/").content.decode()
    assert ('href="/configuracion/"' in body) is shown
    assert 'href="/intenciones/"' in body and 'href="/lotes/"' in body


def test_a_browser_asking_for_english_still_gets_spanish(client_for, manager_a, payment_a):
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=True):
        body = (
            client_for(manager_a).get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
        )
    months = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ]
    assert any(month in body for month in months)
    assert "November" not in body and "Friday" not in body
    assert "$ 1.234,56" in body
