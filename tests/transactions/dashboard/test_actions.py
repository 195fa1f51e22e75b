"""Actions: who may do what (403 in scope, 404 outside), and what the view hands the services.

The services are replaced here: these tests are about the views. The real services against the
simulator are exercised in `test_flows_simulator.py`.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions import services
from transactions.errors import Code, IntentRuleError

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch, payment_a):
    """Records service calls; each returns `payment_a` (or what the test sets in `.result`)."""
    recorded = SimpleNamespace(args=[], result=payment_a, error=None)

    def fake(name):
        def _fake(**kwargs):
            recorded.args.append((name, kwargs))
            if recorded.error:
                raise recorded.error
            return recorded.result

        return _fake

    for name in [
        "payment_create",
        "intent_cancel",
        "reversal_create",
        "refund_create",
        "intent_resolve",
        "intent_refresh",
        "settlement_create",
    ]:
        monkeypatch.setattr(services, name, fake(name))
    monkeypatch.setattr(
        services,
        "store_batch_close",
        lambda **kw: recorded.args.append(("store_batch_close", kw)) or [],
    )
    return recorded


# Irreversible actions ask first (`test_confirmations.py`); these tests are about what happens
# once the person confirmed.
CONFIRMED = {"confirmar": "1"}
ASKS_FIRST = {"intent_reverse", "intent_refund", "batch_close_store"}


def _post(client, name, obj, data=None, **kw):
    data = {**CONFIRMED, **(data or {})} if name in ASKS_FIRST else data or {}
    return client.post(reverse(f"dashboard:{name}", args=[obj.public_id]), data, **kw)


# --- Charge -----------------------------------------------------------------------------------


CHARGE = {"amount": "1.234,56", "installments": "3", "brand": "VI", "method": "card"}


@pytest.mark.parametrize("persona", ["owner", "manager_a", "cashier_a"])
def test_charge_allowed(client_for, request, persona, terminal_a, calls, payment_a):
    user = request.getfixturevalue(persona)
    response = _post(
        client_for(user), "terminal_charge", terminal_a, {**CHARGE, "reference": "T-1"}
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard:intent_detail", args=[payment_a.public_id])
    name, kwargs = calls.args[0]
    assert name == "payment_create"
    assert kwargs["amount"] == Decimal("1234.56")
    assert kwargs["installments"] == 3
    assert kwargs["brand"] == "VI"
    assert kwargs["terminals"] == [terminal_a]
    assert kwargs["reference"] == "T-1"
    assert kwargs["user"] == user


def test_charge_with_htmx_answers_the_live_box(client_for, cashier_a, terminal_a, calls, store_a):
    calls.result = make_intent(
        store_a,
        credential=terminal_a.store.merchant.credentials.first(),
        terminal=terminal_a,
        state="pending",
        provider_id="p-9",
    )
    response = _post(
        client_for(cashier_a), "terminal_charge", terminal_a, CHARGE, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert reverse("dashboard:intent_live", args=[calls.result.public_id]) in body
    assert 'data-action="cancel"' in body


def test_charge_refused_by_role_is_403(client_for, finance, terminal_a, calls):
    assert _post(client_for(finance), "terminal_charge", terminal_a, CHARGE).status_code == 403
    assert calls.args == []


def test_charge_outside_scope_is_404(client_for, manager_a, outsider, terminal_b, calls):
    assert _post(client_for(manager_a), "terminal_charge", terminal_b, CHARGE).status_code == 404
    assert _post(client_for(outsider), "terminal_charge", terminal_b, CHARGE).status_code == 404
    assert calls.args == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "abc"}, "El importe no es válido"),
        ({"installments": "25"}, "Las cuotas van de 1 a 24."),
        ({"brand": "XX"}, "Seleccione una opción válida"),
    ],
)
def test_charge_form_errors_in_spanish(client_for, cashier_a, terminal_a, calls, data, message):
    response = _post(client_for(cashier_a), "terminal_charge", terminal_a, {**CHARGE, **data})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert calls.args == []


def test_charge_rule_error_is_shown_on_the_form(client_for, cashier_a, terminal_a, calls):
    calls.error = IntentRuleError(
        Code.REFERENCE_IN_USE, "Ya hay un cobro en curso para T-1.", field="reference"
    )
    response = _post(
        client_for(cashier_a),
        "terminal_charge",
        terminal_a,
        {**CHARGE, "reference": "T-1"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200  # htmx swaps 2xx only
    assert "Ya hay un cobro en curso para T-1." in response.content.decode()


# --- Cancel, reverse, refund, resolve -------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "name", "data", "expected"),
    [
        ("cashier_a", "intent_cancel", {}, 302),
        ("finance", "intent_cancel", {}, 403),
        ("manager_a", "intent_reverse", {}, 302),
        ("owner", "intent_reverse", {}, 302),
        ("cashier_a", "intent_reverse", {}, 403),
        ("finance", "intent_reverse", {}, 403),
        ("manager_a", "intent_refund", {"amount": "100,00"}, 302),
        ("cashier_a", "intent_refund", {"amount": "100,00"}, 403),
        ("finance", "intent_refund", {"amount": "100,00"}, 403),
        ("cashier_a", "intent_resolve", {}, 403),
        ("finance", "intent_resolve", {}, 403),
        ("outsider", "intent_cancel", {}, 404),
        ("outsider", "intent_reverse", {}, 404),
        ("outsider", "intent_refund", {"amount": "1"}, 404),
        ("outsider", "intent_resolve", {}, 404),
    ],
)
def test_action_permissions(client_for, request, persona, name, data, expected, payment_a, calls):
    user = request.getfixturevalue(persona)
    response = _post(client_for(user), name, payment_a, data)
    assert response.status_code == expected
    if expected != 302:
        assert calls.args == []


def test_actions_on_another_store_are_404_for_its_non_members(
    client_for, manager_a, payment_b, calls
):
    for name in ["intent_cancel", "intent_reverse", "intent_refund", "intent_resolve"]:
        assert _post(client_for(manager_a), name, payment_b, {"amount": "1"}).status_code == 404
    assert calls.args == []


def test_reverse_redirects_to_the_new_reversal(
    client_for, manager_a, payment_a, calls, store_a, terminal_a
):
    reversal = make_intent(
        store_a, terminal=terminal_a, kind="reversal", state="pending", original=payment_a
    )
    calls.result = reversal
    response = _post(client_for(manager_a), "intent_reverse", payment_a)
    assert response.url == reverse("dashboard:intent_detail", args=[reversal.public_id])
    assert calls.args == [("reversal_create", {"payment": payment_a, "user": manager_a})]


def test_reverse_refused_by_the_rules_shows_the_reason(client_for, manager_a, payment_a, calls):
    calls.error = IntentRuleError(Code.BATCH_CLOSED, "El lote del cobro ya se cerró.")
    client = client_for(manager_a)
    response = _post(client, "intent_reverse", payment_a)
    assert response.status_code == 302
    page = client.get(response.url)
    assert "El lote del cobro ya se cerró." in page.content.decode()


def test_refund_amount_over_balance_is_refused_by_the_service(client_for, manager_a, payment_a):
    """The balance rule is `refund_create`'s (the real one here, which refuses before reaching
    the provider); the form only parses the amount and the view shows the refusal on it."""
    from transactions.models import Intent

    response = _post(client_for(manager_a), "intent_refund", payment_a, {"amount": "1.234,57"})
    assert response.status_code == 422
    assert "El importe supera el saldo devolvible ($ 1.234,56)." in response.content.decode()
    assert response.context["refund_form"].errors["amount"]
    assert not Intent.objects.filter(original=payment_a).exists()


def test_installments_bound_is_the_rules_one():
    from transactions import rules
    from transactions.dashboard.forms import ChargeForm

    field = ChargeForm().fields["installments"]
    assert (field.min_value, field.max_value) == (1, rules.MAX_INSTALLMENTS)
    form = ChargeForm({**CHARGE, "installments": str(rules.MAX_INSTALLMENTS + 1)})
    assert form.errors["installments"] == [f"Las cuotas van de 1 a {rules.MAX_INSTALLMENTS}."]


def test_refund_passes_amount_and_original(client_for, manager_a, payment_a, calls):
    _post(client_for(manager_a), "intent_refund", payment_a, {"amount": "234,56"})
    name, kwargs = calls.args[0]
    assert name == "refund_create"
    assert kwargs["amount"] == Decimal("234.56")
    assert kwargs["original"] == payment_a
    assert kwargs["terminal"] == payment_a.terminal


def test_resolve_needs_evidence_and_reason(client_for, manager_a, store_a, terminal_a, calls):
    doubt = make_intent(store_a, terminal=terminal_a, state="in_doubt")
    client = client_for(manager_a)
    response = _post(client, "intent_resolve", doubt, {"outcome": "approved"})
    assert response.status_code == 422
    assert calls.args == []
    response = _post(
        client,
        "intent_resolve",
        doubt,
        {"outcome": "approved", "evidence": "cupón 123", "reason": "ticket de la terminal"},
    )
    assert response.status_code == 302
    name, kwargs = calls.args[0]
    assert (name, kwargs["outcome"], kwargs["evidence"], kwargs["user"]) == (
        "intent_resolve",
        "approved",
        "cupón 123",
        manager_a,
    )


def test_get_on_an_action_is_not_allowed(client_for, manager_a, payment_a):
    url = reverse("dashboard:intent_reverse", args=[payment_a.public_id])
    assert client_for(manager_a).get(url).status_code == 405


def test_actions_need_the_csrf_token(manager_a, payment_a, calls):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(manager_a)
    response = client.post(reverse("dashboard:intent_reverse", args=[payment_a.public_id]))
    assert response.status_code == 403
    assert calls.args == []


# --- Batches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 200), ("manager_a", 200), ("cashier_a", 403), ("finance", 403), ("outsider", 404)],
)
def test_batch_close_permissions(
    client_for, request, persona, expected, store_a, terminal_a, calls
):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert _post(client, "batch_close_store", store_a).status_code == expected
    assert _post(client, "batch_close_terminal", terminal_a).status_code == expected


def test_batch_close_terminal_shows_progress(client_for, manager_a, terminal_a, store_a, calls):
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind="settlement",
        state="pending",
        amount=None,
        provider_id="s-1",
    )
    calls.result = settlement
    response = _post(client_for(manager_a), "batch_close_terminal", terminal_a)
    body = response.content.decode()
    assert '<progress value="0" max="1">' in body
    assert f"i={settlement.public_id}" in body
    assert 'hx-trigger="every 1s"' in body
