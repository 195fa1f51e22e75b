"""Lost create answers and crashes: found by search and adopted, or left in doubt; never re-sent.

The in-doubt life across modules: the resolver's search (`transactions/resolver.py`), the
create pipeline's crash window (`services/pipeline.py`), the operator's resolution
(`services/operator.py`) and the poller's handling of odd answers (`transactions/polling.py`).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from transactions import polling, sweeper
from transactions.backoff import created_grace_seconds
from transactions.errors import IntentRuleError
from transactions.events import SYSTEM
from transactions.models import Intent
from transactions.services import intent_refresh, intent_resolve, payment_create
from transactions.services.pipeline import create_row
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db(transaction=True)


def _warm_token(credential):
    """The drop fault drops every answer, the token's too: fetch it before switching it on."""
    from transactions.gateway import gateway_for

    gateway_for(credential).token()


def test_lost_create_answer_is_in_doubt_then_found_by_search_and_adopted(
    sim, store_a, terminal_a, credential
):
    _warm_token(credential)
    sim.faults(drop_rate=1.0)
    intent = payment_create(
        store=store_a, terminals=[terminal_a], amount=Decimal("100.00"), reference="ORD-9"
    )
    assert intent.state == State.IN_DOUBT
    assert intent.provider_id == ""
    sim.faults(drop_rate=0.0)

    polling.intent_poll(intent)

    intent.refresh_from_db()
    assert intent.state == State.PENDING
    assert intent.provider_id
    sim.pick_and_pay(terminal_a.terminal_id)
    assert intent_refresh(intent=intent).state == State.APPROVED
    counters = sim.counters()
    assert counters["creates_by_ecr_transaction_id"]["ORD-9"] == 1, "never a second POST"


def test_in_doubt_intent_keeps_the_pos_reference_reserved(sim, store_a, terminal_a, credential):
    _warm_token(credential)
    sim.faults(drop_rate=1.0)
    payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("1"), reference="R-1")
    sim.faults(drop_rate=0.0)
    with pytest.raises(IntentRuleError) as exc:
        payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("1"), reference="R-1")
    assert exc.value.code in ("reference_in_use", "terminal_busy")


def _orphan(store_a, terminal_a, credential):
    """A row committed as `created` whose process died before calling the provider."""
    return create_row(
        store=store_a,
        terminals=[terminal_a],
        credential=credential,
        actor=SYSTEM,
        kind=Kind.PAYMENT,
        amount=Decimal("50.00"),
        menu_text="x",
    )


def test_crash_between_commit_and_call_is_resolved_without_sending(
    sim, store_a, terminal_a, credential
):
    intent = _orphan(store_a, terminal_a, credential)
    assert sweeper.claim_due() == [], "not due during the grace period"
    with time_machine.travel(timezone.now() + timedelta(seconds=created_grace_seconds() + 5)):
        assert sweeper.sweep_once() == 1
        intent.refresh_from_db()
        assert intent.state == State.IN_DOUBT
        polling.intent_poll(intent)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        polling.intent_poll(intent)
        intent.refresh_from_db()
    assert intent.state == State.IN_DOUBT
    assert intent.needs_attention
    assert "No se encontró" in intent.attention_reason
    assert sim.counters()["creates_total"] == 0, "the orphan is never sent blindly"


def test_operator_resolves_an_in_doubt_intent_with_evidence(
    sim, store_a, terminal_a, credential, manager_a, cashier_a
):
    intent = _orphan(store_a, terminal_a, credential)
    Intent.objects.filter(pk=intent.pk).update(state=State.IN_DOUBT)
    intent.refresh_from_db()
    with pytest.raises(IntentRuleError) as exc:
        intent_resolve(intent=intent, outcome="approved", evidence="", reason="x", user=manager_a)
    assert exc.value.code == "evidence_required"
    with pytest.raises(IntentRuleError) as exc:
        intent_resolve(intent=intent, outcome="approved", evidence="A1", reason="x", user=cashier_a)
    assert exc.value.code == "forbidden"
    intent_resolve(
        intent=intent, outcome="approved", evidence="AUT A1B2C3", reason="Ticket", user=manager_a
    )
    intent.refresh_from_db()
    assert intent.state == State.APPROVED
    event = intent.events.last()
    assert event.type == "resolved" and event.actor_user == manager_a
    assert "AUT A1B2C3" in event.message
    with pytest.raises(IntentRuleError):
        intent_resolve(intent=intent, outcome="declined", evidence="", reason="y", user=manager_a)


def test_5xx_on_reads_changes_nothing_and_the_next_poll_succeeds(sim, store_a, terminal_a):
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10"))
    sim.pick_and_pay(terminal_a.terminal_id)
    sim.faults(error_rate=1.0)
    assert polling.intent_poll(intent) is False
    intent.refresh_from_db()
    assert intent.state == State.PENDING
    sim.faults(error_rate=0.0)
    assert polling.intent_poll(intent) is True
    assert intent.state == State.APPROVED


def test_unknown_provider_status_is_kept_flagged_and_never_approved(sim, store_a, terminal_a):
    from transactions.gateway import IntentAnswer
    from transactions.transitions import intent_record_answer

    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("10"))
    answer = IntentAnswer(kind="payment", provider_id=intent.provider_id, status="MYSTERY_STATE")
    assert intent_record_answer(intent, answer)
    intent.refresh_from_db()
    assert intent.state == State.PENDING
    assert intent.provider_status == "MYSTERY_STATE"
    assert intent.unknown_status and intent.needs_attention


def test_a_long_poll_on_an_in_doubt_intent_does_not_hammer_the_provider(
    sim, store_a, terminal_a, credential, settings
):
    settings.ECR_WATCH_INTERVAL_MS = 100
    _warm_token(credential)
    sim.faults(drop_rate=1.0)
    intent = payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("7"))
    sim.faults(drop_rate=0.0)
    assert intent.state == State.IN_DOUBT
    calls_before = sim.counters()["calls_by_operation"]
    intent_refresh(intent=intent, wait=1)
    calls_after = sim.counters()["calls_by_operation"]
    assert calls_after.get("payment_search", 0) == calls_before.get("payment_search", 0), (
        "the search is the sweeper's, on its own schedule"
    )
