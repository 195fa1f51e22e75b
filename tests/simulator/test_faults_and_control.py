"""Fault knobs, counters, reset and the set-up endpoints."""

import pytest

from simulator.models import SimCredential, SimIntention, SimTerminal
from tests.simulator.support import BASE, CUIT, T1, T2
from tests.simulator.test_payments import assert_error

pytestmark = pytest.mark.django_db

DEFAULT_FAULTS = {
    "latency_ms": 0, "error_rate": 0.0, "drop_rate": 0.0, "token_ttl_seconds": 3600,
    "plain_text_errors": False, "seed": None, "lost_answer_sleep_ms": 30000,
    "undo_delay_ms": 1000, "settlement_delay_ms": 1000,
    "settlement_fault": "", "sandbox_fixed_data": False,
}  # fmt: skip


def test_faults_read_and_partial_update(control):
    assert control.get("faults") == DEFAULT_FAULTS
    updated = control.faults(error_rate=0.25, seed=7)
    assert updated == {**DEFAULT_FAULTS, "error_rate": 0.25, "seed": 7}
    assert control.get("faults")["error_rate"] == 0.25
    assert_error(control.put("faults", {"error_rate": 2}), 400, "error_rate")
    assert_error(control.put("faults", {"nope": 1}), 400, "nope")


def test_error_rate_one_answers_5xx_before_doing_anything(api, control):
    api.token()
    control.faults(error_rate=1)
    response = api.create_payment()
    assert response.status_code in (500, 503)
    (error,) = response.json()["errors"]
    assert error["status"] == str(response.status_code)
    assert not SimIntention.objects.exists()
    assert api.client.get(f"{BASE}/v1/oauth/accesstoken").status_code in (500, 503)


def test_seeded_error_rate_is_reproducible(api, control):
    def statuses():
        control.faults(error_rate=0.5, seed=42)
        return [api.call("GET", f"{BASE}/health/liveness", token=tok).status_code
                for _ in range(12)]  # fmt: skip

    tok = api.token()
    first = statuses()
    assert first == statuses()
    assert 200 in first and any(code >= 500 for code in first)


def test_plain_text_errors(api, control):
    control.faults(plain_text_errors=True, error_rate=1)
    response = api.client.get(f"{BASE}/health/liveness")
    assert response.status_code in (500, 503)
    assert response["Content-Type"].startswith("text/plain")
    assert response.content in (b"Service Unavailable", b"Internal Server Error")

    control.faults(error_rate=0)
    busy = api.create_payment(terminals_list=[{"terminal_id": T1}])
    assert busy.status_code == 200
    conflict = api.create_payment(terminals_list=[{"terminal_id": T1}])
    assert conflict.status_code == 409
    assert conflict["Content-Type"].startswith("text/plain")
    assert conflict.content == b"Conflict"


def test_drop_rate_one_stores_the_create_but_loses_the_answer(api, control):
    api.token()
    control.faults(drop_rate=1, lost_answer_sleep_ms=0)
    response = api.create_payment(ecr_transaction_id="DROP-1")
    assert response.status_code == 504
    stored = SimIntention.objects.get()
    assert stored.ecr_transaction_id == "DROP-1"
    assert stored.status == "PAYMENT_REQUEST"
    control.faults(drop_rate=0)
    assert api.get_payment(stored.pk).status_code == 200


def test_latency_is_added(api, control):
    import time

    control.faults(latency_ms=150)
    started = time.monotonic()
    api.call("GET", f"{BASE}/health/liveness")
    assert time.monotonic() - started >= 0.15


def test_counters(api, control):
    api.token()
    payment_id = api.create_payment(ecr_transaction_id="C-1").json()["payment_data"]["payment_id"]
    api.create_payment(ecr_transaction_id="C-1")  # 409 busy, still a create received
    api.get_payment(payment_id)
    api.get_payment(payment_id)
    api.cancel_payment(payment_id)

    counters = control.get("counters")
    assert counters == {
        "creates_by_ecr_transaction_id": {"C-1": 2},
        "creates_total": 2,
        "reads_by_intention_id": {payment_id: 2},
        "reads_total": 2,
        "tokens_issued": 1,
        "calls_by_operation": {
            "token": 1, "payment_create": 2, "payment_get": 2, "payment_cancel": 1,
        },
    }  # fmt: skip


def test_reset_keeps_credentials_and_terminals_unless_all(api, control):
    api.create_payment()
    control.faults(error_rate=0.5)
    control.put(f"terminals/{T1}/autopilot", {"enabled": True})

    assert control.post("reset", {}).json() == {"reset": True, "all": False}
    assert not SimIntention.objects.exists()
    assert control.get("faults") == DEFAULT_FAULTS
    assert control.get("counters")["calls_by_operation"] == {}
    assert control.get(f"terminals/{T1}/autopilot")["enabled"] is None
    assert SimTerminal.objects.count() == 2 and SimCredential.objects.count() == 1

    control.post("reset", {"all": True})
    assert not SimTerminal.objects.exists() and not SimCredential.objects.exists()


def test_credentials_and_terminals_upsert(client, control):
    body = {"public_key": "pk_new", "secret_key": "s1", "cuit": "30-12345678-9",
            "environment": "sandbox", "merchant_name": "DEMO"}  # fmt: skip
    first = control.post("credentials", body)
    assert first.status_code == 200
    assert first.json() == {
        "public_key": "pk_new", "cuit": "30123456789", "environment": "sandbox",
        "subnet_acquirer_id": "1", "merchant_name": "DEMO", "merchant_id": "0012345678",
    }  # fmt: skip
    assert control.post("credentials", {**body, "secret_key": "s2"}).status_code == 200
    assert SimCredential.objects.get(public_key="pk_new").secret_key == "s2"
    assert_error(control.post("credentials", {**body, "environment": "prod"}), 400, "environment")

    terminal = control.post("terminals", {"terminal_id": "12345678", "cuit": "30123456789"})
    assert terminal.status_code == 200
    state = terminal.json()
    assert state["terminal_id"] == "12345678"
    assert 100 <= state["batch_number"] <= 199
    again = control.post("terminals", {"terminal_id": "12345678", "cuit": "30123456789",
                                       "serial": "X1", "batch_number": 7})  # fmt: skip
    assert (again.json()["serial"], again.json()["batch_number"]) == ("X1", 7)
    assert_error(control.post("terminals", {"terminal_id": "123", "cuit": CUIT}), 400, "8 dígitos")
    listed = control.get("terminals")["terminals"]
    assert [t["terminal_id"] for t in listed] == ["12345678", T1, T2]


def test_terminal_detail_and_unknown_terminal(control, api):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    state = control.get(f"terminals/{T1}")
    assert state["busy"] is True
    (pending,) = state["pending"]
    assert pending["id"] == payment_id
    assert pending["amount_display"] == "$ 1.520,50"
    assert pending["terminal_menu_text"] == "Pedido 4411 $1.520,50"
    assert state["current"] is None
    assert_error(control.client.get(f"{BASE}/control/terminals/00000000"), 404, "inexistente")
    assert_error(control.act(T1, "dance"), 404, "Acción")


def test_simulator_seed_command_is_idempotent(db):
    from django.core.management import call_command

    args = ["--public-key", "pk_seed", "--secret-key", "sk", "--cuit", "30-71234567-1",
            "--environment", "homologation", "--merchant-name", "DEMO",
            "--terminal", "38011127", "--terminal", "38011128"]  # fmt: skip
    call_command("simulator_seed", *args)
    batch = SimTerminal.objects.get(terminal_id="38011127").batch_number
    call_command("simulator_seed", *args)
    assert SimCredential.objects.filter(public_key="pk_seed").count() == 1
    assert SimTerminal.objects.filter(cuit="30712345671").count() == 2
    assert SimTerminal.objects.get(terminal_id="38011127").batch_number == batch
