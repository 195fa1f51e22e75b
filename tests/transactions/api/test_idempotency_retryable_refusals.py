"""Issue 11 item 2: a refusal that created nothing at the provider and may succeed later is not
the key's final answer: a POS retrying with the same key runs the request again. Other refusals
are still replayed (see test_idempotency.py)."""

import pytest

from tests.factories import make_intent
from tests.transactions.api.support import post
from transactions import services
from transactions.api.models import IdempotencyRecord
from transactions.api.schema_docs import API_DESCRIPTION
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent
from transactions.states import State


def _body(terminal):
    return {"terminal": str(terminal.public_id), "amount": "1500.00", "reference": "RETRY-1"}


@pytest.fixture
def refuse_once_then_create(monkeypatch, store_a, terminal_a):
    """`payment_create` refuses the first call with `code` (leaving a failed intent behind, as a
    provider refusal does, or nothing for the portal's own check), then creates."""
    calls = []

    def arrange(code: Code, *, leaves_failed_intent: bool):
        def payment_create(*, store, terminals, amount, pos_client, **kwargs):
            calls.append(code)
            if len(calls) == 1:
                failed = (
                    make_intent(store, offered_terminals=terminals, state=State.FAILED)
                    if leaves_failed_intent
                    else None
                )
                raise IntentRuleError(code, "No esta vez.", intent_id=failed and failed.pk)
            return make_intent(store, terminal=terminals[0], requested_by_pos=pos_client)

        monkeypatch.setattr(services, "payment_create", payment_create)
        return calls

    return arrange


@pytest.mark.parametrize(
    ("code", "status", "leaves_failed_intent"),
    [
        (Code.PROVIDER_UNAVAILABLE, 503, True),  # 5xx or unreachable: nothing at the provider
        (Code.TERMINAL_BUSY, 409, True),  # the provider's 409
        (Code.TERMINAL_BUSY, 409, False),  # the portal's own busy check
    ],
)
def test_a_retryable_refusal_is_not_the_keys_answer_and_the_retry_creates(
    api_a, terminal_a, refuse_once_then_create, code, status, leaves_failed_intent
):
    calls = refuse_once_then_create(code, leaves_failed_intent=leaves_failed_intent)
    first = post(api_a, "/payments", _body(terminal_a), key="order-7")
    assert first.status_code == status and first.json()["code"] == code.value
    assert not IdempotencyRecord.objects.filter(key="order-7").exists()

    retry = post(api_a, "/payments", _body(terminal_a), key="order-7")
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert len(calls) == 2
    created = Intent.objects.get(public_id=retry.json()["id"])
    assert IdempotencyRecord.objects.get(key="order-7").intent_id == created.pk

    # From now on the key's answer is the created intent.
    replay = post(api_a, "/payments", _body(terminal_a), key="order-7")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == retry.json()
    assert len(calls) == 2


def test_a_final_refusal_is_still_the_keys_answer(api_a, terminal_a, refuse_once_then_create):
    calls = refuse_once_then_create(Code.PROVIDER_REJECTED, leaves_failed_intent=True)
    first = post(api_a, "/payments", _body(terminal_a), key="order-8")
    assert first.json()["code"] == "provider_rejected"
    replay = post(api_a, "/payments", _body(terminal_a), key="order-8")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert len(calls) == 1


def test_the_api_description_states_which_refusals_a_retry_runs_again():
    section = API_DESCRIPTION.split("## Idempotencia", 1)[1]
    assert "provider_unavailable" in section and "terminal_busy" in section
    assert "misma** clave vuelve a ejecutar" in section
