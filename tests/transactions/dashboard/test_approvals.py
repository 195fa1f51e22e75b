"""The dashboard side of issue 15: the Aprobaciones page and its decisions, a refund above the
threshold from the intent page, the store's money controls and the POS key permissions.

Sending an approved refund is the services' (tested against the simulator in
tests/transactions/test_money_controls_sent.py); here it is replaced by a recorder at
`services.approvals.refund_send`, the step right after the approval is committed."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores.models import PosClient
from stores.services import pos_client_create
from tests.factories import make_intent
from tests.transactions.support import set_money_controls
from transactions.models import ApprovalRequest, GatewayCall, Intent, MoneyControls
from transactions.services import refund_create
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_refund(store_a, terminal_a, credential, manager_a):
    """A refund of $600 asked by the manager of store A, above the $500 threshold: waiting."""
    payment = make_intent(store_a, terminal=terminal_a, credential=credential, state=State.APPROVED)
    set_money_controls(store_a, refund_approval_threshold=Decimal("500.00"))
    refund = refund_create(
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("600.00"),
        original=payment,
        user=manager_a,
    )
    assert refund.state == State.APPROVAL_PENDING
    return refund


@pytest.fixture
def sent(monkeypatch):
    """Records the refunds the approval sends (no provider here)."""
    from transactions.services import approvals

    calls = []

    def _record(intent, *, actor):
        calls.append((intent.pk, actor.user))
        return intent

    monkeypatch.setattr(approvals, "refund_send", _record)
    return calls


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_page_lists_what_waits_with_why_and_who(client_for, owner, held_refund):
    response = client_for(owner).get(reverse("dashboard:approval_list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-approval="{held_refund.public_id}"' in page
    assert "encargado_a" in page and "supera $ 500,00" in page
    assert 'data-action="approve"' in page and 'data-action="reject"' in page
    assert ">Aprobaciones</a>" in page, "the navigation links the page for approvers"


def test_the_requester_sees_it_but_cannot_decide(client_for, manager_a, held_refund, sent):
    client = client_for(manager_a)
    page = client.get(reverse("dashboard:approval_list")).content.decode()
    assert "La pediste vos" in page and 'data-action="approve"' not in page
    response = client.post(reverse("dashboard:approval_approve", args=[held_refund.public_id]))
    assert response.status_code == 302
    assert any("no puede aprobarla" in m for m in _messages(response))
    held_refund.refresh_from_db()
    assert held_refund.state == State.APPROVAL_PENDING and sent == []


def test_cashiers_have_no_approvals(client_for, cashier_a):
    client = client_for(cashier_a)
    assert client.get(reverse("dashboard:approval_list")).status_code == 403
    assert ">Aprobaciones</a>" not in client.get(reverse("dashboard:home")).content.decode()


def test_another_person_approves_and_it_is_sent(client_for, owner, held_refund, sent):
    response = client_for(owner).post(
        reverse("dashboard:approval_approve", args=[held_refund.public_id])
    )
    assert response.status_code == 302
    assert sent == [(held_refund.pk, owner)]
    held_refund.refresh_from_db()
    assert held_refund.state == State.CREATED
    approval = ApprovalRequest.objects.get(intent=held_refund)
    assert (approval.status, approval.decided_by) == (ApprovalRequest.Status.APPROVED, owner)
    decided = client_for(owner).get(reverse("dashboard:approval_list")).content.decode()
    assert "Aprobada" in decided and "Nada espera aprobación" in decided


def test_another_person_rejects_with_a_note(client_for, owner, held_refund, sent):
    response = client_for(owner).post(
        reverse("dashboard:approval_reject", args=[held_refund.public_id]),
        {"note": "ticket dudoso"},
    )
    assert response.status_code == 302
    held_refund.refresh_from_db()
    assert held_refund.state == State.CANCELLED and sent == []
    assert ApprovalRequest.objects.get(intent=held_refund).note == "ticket dudoso"
    detail = client_for(owner).get(reverse("dashboard:intent_detail", args=[held_refund.public_id]))
    assert "Rechazada por duenio: ticket dudoso" in detail.content.decode()


def test_the_intent_page_offers_the_decision_to_approvers_only(
    client_for, owner, manager_a, held_refund
):
    url = reverse("dashboard:intent_detail", args=[held_refund.public_id])
    page = client_for(owner).get(url).content.decode()
    assert 'data-field="approval"' in page and 'data-action="approve"' in page
    mine = client_for(manager_a).get(url).content.decode()
    assert 'data-field="approval"' in mine and 'data-action="approve"' not in mine


def test_a_refund_above_the_threshold_from_the_intent_page_waits(
    client_for, manager_a, store_a, terminal_a
):
    payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    set_money_controls(store_a, refund_approval_threshold=Decimal("100.00"))
    client = client_for(manager_a)
    url = reverse("dashboard:intent_refund", args=[payment.public_id])
    confirm = client.post(url, {"amount": "150,00"})
    assert confirm.status_code == 200
    assert "Esperará la aprobación de otra persona" in confirm.content.decode()
    assert not Intent.objects.filter(kind=Kind.REFUND).exists()
    response = client.post(url, {"amount": "150,00", "confirmar": "1"})
    assert response.status_code == 302
    refund = Intent.objects.get(kind=Kind.REFUND)
    assert refund.state == State.APPROVAL_PENDING
    assert any("espera la aprobación" in m for m in _messages(response))
    assert not GatewayCall.objects.exists()


def test_owner_saves_the_money_controls(client_for, owner, store_a):
    url = reverse("dashboard:store_money_controls", args=[store_a.public_id])
    client = client_for(owner)
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "refund_approval_threshold": "50.000,00",
            "reversal_approval_threshold": "",
            "approval_expiry_minutes": "30",
            "daily_refund_limit": "200.000",
            "cashback_max": "5.000",
            "window_VISA": "30",
            "window_AMEX": "15",
            "window_other": "60",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    controls = MoneyControls.objects.get(store=store_a)
    assert controls.refund_approval_threshold == Decimal("50000.00")
    assert controls.reversal_approval_threshold is None
    assert controls.approval_expiry_minutes == 30
    assert controls.daily_refund_limit == Decimal("200000.00")
    assert controls.cashback_max == Decimal("5000.00")
    assert controls.refund_window_days == {"VISA": 30, "AMEX": 15, "*": 60}
    assert controls.updated_by == owner
    again = client.get(url).content.decode()
    assert 'value="50000,00"' in again


def test_money_controls_refuse_bad_input(client_for, owner, store_a):
    url = reverse("dashboard:store_money_controls", args=[store_a.public_id])
    response = client_for(owner).post(
        url, {"approval_expiry_minutes": "0", "window_VISA": "-1", "daily_refund_limit": "abc"}
    )
    assert response.status_code == 422
    assert not MoneyControls.objects.exists()


def test_a_charge_only_pos_key_from_the_settings(client_for, owner, store_a):
    response = client_for(owner).post(
        reverse("dashboard:pos_key_create"),
        {"store": store_a.pk, "name": "Caja 3", "can_charge": "on"},
    )
    assert response.status_code == 200
    key = PosClient.objects.get(name="Caja 3")
    assert key.can_charge
    assert not (key.can_cancel or key.can_reverse or key.can_refund or key.can_close_batch)
    assert not key.can_refund_unreferenced
    index = client_for(owner).get(reverse("dashboard:settings")).content.decode()
    assert "Controles de dinero" in index


def test_cashback_from_the_charge_box_follows_the_stores_rules(client_for, manager_a, terminal_a):
    url = reverse("dashboard:terminal_charge", args=[terminal_a.public_id])
    response = client_for(manager_a).post(
        url, {"amount": "100,00", "installments": "1", "method": "card", "change_amount": "500"}
    )
    assert response.status_code == 422
    assert "no da extracciones" in response.content.decode()
    assert not Intent.objects.exists()


def test_an_existing_key_is_restricted_to_charging(client_for, owner, store_a):
    key, _ = pos_client_create(store=store_a, name="Caja vieja")
    assert key.can_refund
    url = reverse("dashboard:pos_key_permissions", args=[key.public_id])
    client = client_for(owner)
    page = client.get(url)
    assert page.status_code == 200 and page.context["form"].initial["can_refund"] is True
    assert client.post(url, {"can_charge": "on", "can_cancel": "on"}).status_code == 302
    key.refresh_from_db()
    assert key.can_charge and key.can_cancel
    assert not (key.can_reverse or key.can_refund or key.can_close_batch)


def test_the_page_costs_the_same_queries_with_one_request_or_many(
    client_for, owner, manager_a, store_a, terminal_a, held_refund, sent
):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(owner).get(reverse("dashboard:approval_list")).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    for _ in range(4):
        payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
        refund = refund_create(
            store=store_a,
            terminal=terminal_a,
            amount=Decimal("700.00"),
            original=payment,
            user=manager_a,
        )
        client_for(owner).post(reverse("dashboard:approval_reject", args=[refund.public_id]))
        payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
        refund_create(
            store=store_a,
            terminal=terminal_a,
            amount=Decimal("700.00"),
            original=payment,
            user=manager_a,
        )
    assert count() == one


def test_the_intent_page_of_a_held_refund_follows_the_decision(client_for, manager_a, held_refund):
    """It re-reads the ledger every 5 s, so the requester sees the approval without reloading."""
    client = client_for(manager_a)
    body = client.get(reverse("dashboard:intent_detail", args=[held_refund.public_id])).content
    panel = reverse("dashboard:intent_panel", args=[held_refund.public_id])
    assert f'hx-get="{panel}" hx-trigger="every 5s"' in body.decode()
    held_refund.state = State.CANCELLED
    held_refund.save(update_fields=["state"])
    body = client.get(panel, headers={"HX-Request": "true"}).content.decode()
    assert 'data-state="cancelled"' in body
    assert "hx-trigger" not in body.split(">", 1)[0]  # final: the polling stops
