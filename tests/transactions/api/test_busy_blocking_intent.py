"""Issue 12 item 3, the POS side: a `terminal_busy` refusal names the intent that holds the
terminal (`blocking_intent_id`), so the till can read or cancel it instead of retrying blindly;
the idempotency key is not tied to that other intent (the refusal is retryable)."""

import pytest

from tests.factories import make_intent
from tests.transactions.api.support import API, post
from transactions.states import State

pytestmark = pytest.mark.django_db


def test_the_busy_problem_names_the_blocking_intent(api_a, terminal_a, credential):
    pending = make_intent(terminal_a.store, state=State.PENDING, offered_terminals=[terminal_a])
    body = {"terminal": str(terminal_a.public_id), "amount": "15.00"}
    response = post(api_a, "/payments", body, key="k-busy-1")
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "terminal_busy"
    assert problem["blocking_intent_id"] == str(pending.public_id)
    assert "la puede cancelar un dueño, un encargado o un cajero" in problem["detail"]
    # The till can read it with its own key.
    assert api_a.get(f"{API}/intents/{pending.public_id}").status_code == 200


def test_other_refusals_carry_no_blocking_intent(api_a, terminal_a, credential):
    response = post(api_a, "/payments", {"terminal": str(terminal_a.public_id), "amount": "-1"})
    assert response.status_code == 400
    assert "blocking_intent_id" not in response.json()
