"""The cases the simulator lacked (issue 11, item 22): a batch close that is refused, that
fails, or whose ticket cannot be read (the `settlement_fault` knob); and a sandbox mode that
answers only the fixed test data of contract §6 (the `sandbox_fixed_data` knob)."""

import pytest

from simulator import services
from tests.simulator.support import T2, Api, paid_payment, payment_body
from tests.simulator.test_payments import assert_error
from transactions.models import Batch
from transactions.reporting.reconciliation import reconcile

pytestmark = pytest.mark.django_db


def test_a_refused_close_creates_nothing(api, control):
    batch = control.get(f"terminals/{T2}")["batch_number"]
    control.faults(settlement_fault="refuse")
    assert_error(api.create_settlement(T2), 409, "no puede cerrar el lote")
    assert control.get(f"terminals/{T2}")["batch_number"] == batch
    control.faults(settlement_fault="")
    assert api.create_settlement(T2).status_code == 200


def test_a_failed_close_ends_in_error_and_leaves_the_batch_open(api, control, clock):
    batch = control.get(f"terminals/{T2}")["batch_number"]
    control.faults(settlement_fault="error")
    settlement_id = api.create_settlement(T2).json()["settlements_data"]["settlement_id"]
    clock.shift(2)
    data = api.get_settlement(settlement_id).json()["settlements_data"]
    assert data["settlement_status"] == "ERROR"
    assert data["acquirer_additional_message"] == "CIERRE NO REALIZADO"
    assert control.get(f"terminals/{T2}")["batch_number"] == batch
    # The terminal is free again: the next close works.
    control.faults(settlement_fault="")
    second = api.create_settlement(T2).json()["settlements_data"]["settlement_id"]
    clock.shift(2)
    assert api.get_settlement(second).json()["settlements_data"]["settlement_status"] == (
        "CONFIRMED"
    )


def test_an_illegible_ticket_closes_the_batch_and_the_portal_cannot_read_it(api, control, clock):
    paid_payment(api, control, payment_amount="150000")
    control.faults(settlement_fault="illegible_ticket")
    settlement_id = api.create_settlement(T2).json()["settlements_data"]["settlement_id"]
    clock.shift(2)
    data = api.get_settlement(settlement_id).json()["settlements_data"]
    assert data["settlement_status"] == "CONFIRMED"
    totals = {
        "brands": {"VISA": {"count": 1, "amount": "1500.00"}},
        "reversals": {"count": 0, "amount": "0.00"},
        "refunds": {"count": 0, "amount": "0.00"},
    }
    assert reconcile(totals=totals, ticket=data["merchant_receipt_detail"])[0] == (
        Batch.Verdict.ILLEGIBLE
    )


def test_an_unknown_settlement_fault_is_refused(control):
    response = control.put("faults", {"settlement_fault": "sometimes"})
    assert response.status_code == 400


# --- Sandbox (contract §6) -----------------------------------------------------------------

SANDBOX_KEY, SANDBOX_SECRET = "pk_sandbox", "sk_sandbox"


@pytest.fixture
def sandbox(client, db):
    services.credential_upsert(
        public_key=SANDBOX_KEY,
        secret_key=SANDBOX_SECRET,
        cuit="30-12345678-9",
        environment="sandbox",
        merchant_name="SANDBOX",
    )
    services.terminal_upsert(terminal_id="12345678", cuit="30-12345678-9")
    services.terminal_upsert(terminal_id="87654321", cuit="30-12345678-9")
    services.faults_update(changes={"sandbox_fixed_data": True})
    return Api(
        client, cuit="30-12345678-9", subnet="1", public_key=SANDBOX_KEY, secret=SANDBOX_SECRET
    )


def _sandbox_payment(**overrides):
    fixed = {
        "subnet_acquirer_id": "1",
        "payment_amount": "1500",
        "terminals_list": [{"terminal_id": "12345678"}],
        "merchant_group_code": "1238494234",
        "currency_code": "032",
    }
    return payment_body(**{**fixed, **overrides})


def test_sandbox_answers_its_fixed_data(sandbox):
    created = sandbox.create_payment(_sandbox_payment())
    assert created.status_code == 200, created.content
    payment_id = created.json()["payment_data"]["payment_id"]
    assert sandbox.get_payment(payment_id).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"payment_amount": "1501"}, "payment_amount"),
        ({"terminals_list": [{"terminal_id": "87654321"}]}, "terminal_id"),
        ({"merchant_group_code": "1"}, "merchant_group_code"),
        ({"currency_code": None}, "currency_code"),
    ],
)
def test_sandbox_refuses_any_other_data(sandbox, overrides, field):
    assert_error(sandbox.create_payment(_sandbox_payment(**overrides)), 400, f"sandbox: {field}")


def test_sandbox_refuses_a_close_of_another_terminal(sandbox):
    assert_error(sandbox.create_settlement("87654321"), 400, "sandbox: terminal_id")
    assert sandbox.create_settlement("12345678").status_code == 200


def test_sandbox_refuses_a_credential_with_a_real_cuit(client, sandbox):
    services.credential_upsert(
        public_key="pk_real", secret_key="sk_real", cuit="30-71234567-1",
        environment="sandbox", merchant_name="REAL",
    )  # fmt: skip
    real = Api(client, cuit="30-71234567-1", subnet="1", public_key="pk_real", secret="sk_real")
    assert_error(real.get_payment("00000000-0000-0000-0000-000000000000"), 400, "cuit_cuil")


def test_without_the_knob_sandbox_takes_any_data(sandbox):
    services.faults_update(changes={"sandbox_fixed_data": False})
    assert sandbox.create_payment(_sandbox_payment(payment_amount="999")).status_code == 200
