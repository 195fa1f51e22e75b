"""Issue 12 item 7: nothing irreversible without a confirmation, checked on the server (so it
holds without JavaScript). The first POST (without `confirmar=1`) changes nothing and answers a
page that says what is about to happen; the confirmed one acts."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from stores.models import Membership, PosClient
from tests import factories
from transactions import services
from transactions.models import Intent

pytestmark = pytest.mark.django_db


def _rows() -> dict:
    """Every row of the portal's own models: an unconfirmed POST must leave them as they were."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label in ("stores", "transactions")
    }


@pytest.fixture
def no_services(monkeypatch):
    """Any service call fails the test: the unconfirmed step must not reach one."""
    called = []
    for name in ["reversal_create", "refund_create", "store_batch_close", "settlement_create"]:
        monkeypatch.setattr(services, name, lambda name=name, **kw: called.append(name) or [])
    return called


def test_anular_asks_first_and_changes_nothing(client_for, manager_a, payment_a, no_services):
    before = _rows()
    response = client_for(manager_a).post(
        reverse("dashboard:intent_reverse", args=[payment_a.public_id])
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "data-confirm" in body and "$ 1.234,56" in body
    assert 'name="confirmar" value="1"' in body
    assert no_services == []
    assert _rows() == before


def test_devolver_is_not_prefilled_with_the_balance(client_for, manager_a, payment_a):
    page = client_for(manager_a).get(reverse("dashboard:intent_detail", args=[payment_a.public_id]))
    form = page.context["refund_form"]
    assert not form.is_bound and not form.initial.get("amount")
    assert 'value="1.234,56"' not in page.content.decode()


def test_devolver_requires_an_amount(client_for, manager_a, payment_a, no_services):
    url = reverse("dashboard:intent_refund", args=[payment_a.public_id])
    response = client_for(manager_a).post(url, {"amount": ""})
    assert response.status_code == 422
    assert response.context["refund_form"].errors["amount"]
    assert no_services == []


def test_devolver_shows_the_typed_amount_before_acting(
    client_for, manager_a, payment_a, no_services
):
    before = _rows()
    url = reverse("dashboard:intent_refund", args=[payment_a.public_id])
    response = client_for(manager_a).post(url, {"amount": "200,5"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "¿Devolvés $ 200,50 de este cobro?" in body
    assert 'name="amount" value="200,50"' in body
    assert "Sí, devolver $ 200,50" in body
    assert no_services == []
    assert _rows() == before


def test_devolver_over_the_balance_is_refused_at_the_confirm_step(
    client_for, manager_a, payment_a, no_services
):
    url = reverse("dashboard:intent_refund", args=[payment_a.public_id])
    response = client_for(manager_a).post(url, {"amount": "5.000"})
    assert response.status_code == 422
    assert "supera el saldo devolvible ($ 1.234,56)" in response.content.decode()
    assert no_services == []


def test_devolver_confirmed_passes_the_amount(client_for, manager_a, payment_a, monkeypatch):
    seen = {}

    def refund_create(**kwargs):
        seen.update(kwargs)
        return payment_a

    monkeypatch.setattr(services, "refund_create", refund_create)
    url = reverse("dashboard:intent_refund", args=[payment_a.public_id])
    response = client_for(manager_a).post(url, {"amount": "200,50", "confirmar": "1"})
    assert response.status_code == 302
    assert seen["amount"] == Decimal("200.50")


def test_closing_every_terminal_asks_first(client_for, manager_a, store_a, terminal_a, no_services):
    before = _rows()
    url = reverse("dashboard:batch_close_store", args=[store_a.public_id])
    response = client_for(manager_a).post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    # An htmx fragment that posts the confirmation into the same result area.
    assert "<html" not in body
    assert f'hx-post="{url}"' in body and f'hx-target="#close-{store_a.public_id}"' in body
    assert "Caja A1" in body
    assert no_services == []
    assert _rows() == before
    # Without htmx, a whole page.
    page = client_for(manager_a).post(url)
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert no_services == []


def test_closing_every_terminal_acts_once_confirmed(client_for, manager_a, store_a, no_services):
    url = reverse("dashboard:batch_close_store", args=[store_a.public_id])
    client_for(manager_a).post(url, {"confirmar": "1"}, headers={"HX-Request": "true"})
    assert no_services == ["store_batch_close"]


def test_revoking_a_pos_key_asks_first(client_for, owner, store_a):
    pos, _key = factories.make_pos_client(store_a, name="Caja 3")
    before = _rows()
    url = reverse("dashboard:pos_key_revoke", args=[pos.public_id])
    response = client_for(owner).post(url)
    assert response.status_code == 200
    assert "¿Revocás la clave «Caja 3»" in response.content.decode()
    assert _rows() == before
    assert client_for(owner).post(url, {"confirmar": "1"}).status_code == 302
    pos.refresh_from_db()
    assert not pos.is_active


def test_removing_a_member_asks_first(client_for, owner, cashier_a):
    membership = Membership.objects.get(user=cashier_a)
    before = _rows()
    url = reverse("dashboard:member_delete", args=[membership.public_id])
    response = client_for(owner).post(url)
    assert response.status_code == 200
    assert "cajero_a" in response.content.decode()
    assert _rows() == before
    assert client_for(owner).post(url, {"confirmar": "1"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_only_the_exact_confirmation_counts(client_for, owner, store_a):
    pos, _key = factories.make_pos_client(store_a)
    url = reverse("dashboard:pos_key_revoke", args=[pos.public_id])
    for value in ["", "0", "si", "true"]:
        assert client_for(owner).post(url, {"confirmar": value}).status_code == 200
    assert PosClient.objects.get(pk=pos.pk).is_active


def test_the_confirm_page_still_needs_the_role(client_for, cashier_a, payment_a):
    url = reverse("dashboard:intent_reverse", args=[payment_a.public_id])
    assert client_for(cashier_a).post(url).status_code == 403
    assert not Intent.objects.filter(original=payment_a).exists()


def test_a_reversal_the_rules_refuse_is_not_offered_for_confirmation(
    client_for, manager_a, store_a, terminal_a, no_services
):
    declined = factories.make_intent(store_a, terminal=terminal_a, state="declined")
    client = client_for(manager_a)
    response = client.post(reverse("dashboard:intent_reverse", args=[declined.public_id]))
    assert response.status_code == 302
    assert "Solo se anula un cobro aprobado." in client.get(response.url).content.decode()
    assert no_services == []
