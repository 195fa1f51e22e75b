"""Money controls (issue 15) at the services, each rule refused with its code and changing
nothing: POS key permissions, refunds without an original, refund windows per brand, the daily
refund limit, cash-back and QR benefits. The rules refuse before anything is written, so no
provider is involved; what is allowed (and reaches the provider) is in
`test_money_controls_sent.py`, against the simulator."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from stores.services import pos_client_create
from tests.factories import make_intent
from tests.transactions.support import set_money_controls
from transactions import controls
from transactions.errors import Code, IntentRuleError
from transactions.models import ApprovalRequest, GatewayCall, Intent
from transactions.services import (
    approval_approve,
    intent_cancel,
    payment_create,
    refund_create,
    reversal_create,
    settlement_create,
)
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def _refused(code: Code, call, **kwargs) -> IntentRuleError:
    before = Intent.objects.count()
    with pytest.raises(IntentRuleError) as exc:
        call(**kwargs)
    assert exc.value.code == code, exc.value.message
    assert Intent.objects.count() == before, "a refusal wrote an intent"
    assert not GatewayCall.objects.exists(), "a refusal reached the provider"
    return exc.value


@pytest.fixture
def payment(store_a, terminal_a, credential):
    return make_intent(store_a, terminal=terminal_a, credential=credential, state=State.APPROVED)


@pytest.fixture
def charge_only_key(store_a):
    client, _ = pos_client_create(
        store=store_a,
        name="Caja solo cobra",
        permissions={
            "can_cancel": False,
            "can_reverse": False,
            "can_refund": False,
            "can_close_batch": False,
        },
    )
    return client


# --- POS key permissions -------------------------------------------------------------------


def test_a_charge_only_key_cannot_move_money_back_nor_close(
    charge_only_key, payment, store_a, terminal_a
):
    error = _refused(
        Code.KEY_ACTION_NOT_ALLOWED, reversal_create, payment=payment, pos_client=charge_only_key
    )
    assert "Caja solo cobra" in error.message and "anular" in error.message
    _refused(
        Code.KEY_ACTION_NOT_ALLOWED,
        refund_create,
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("10.00"),
        original=payment,
        pos_client=charge_only_key,
    )
    _refused(
        Code.KEY_ACTION_NOT_ALLOWED,
        settlement_create,
        terminal=terminal_a,
        pos_client=charge_only_key,
    )
    pending = make_intent(store_a, terminal=terminal_a, state=State.PENDING)
    _refused(Code.KEY_ACTION_NOT_ALLOWED, intent_cancel, intent=pending, pos_client=charge_only_key)


def test_a_key_without_charge_cannot_charge(store_a, terminal_a):
    refunds_only, _ = pos_client_create(
        store=store_a, name="Devoluciones", permissions={"can_charge": False}
    )
    _refused(
        Code.KEY_ACTION_NOT_ALLOWED,
        payment_create,
        store=store_a,
        terminals=[terminal_a],
        amount=Decimal("10.00"),
        pos_client=refunds_only,
    )


def test_key_permissions_default_to_everything_but_unreferenced_refunds(store_a):
    client, _ = pos_client_create(store=store_a, name="Caja")
    assert all(client.allows(a) for a in ("charge", "cancel", "reverse", "refund", "close_batch"))
    assert not client.allows("refund_unreferenced")
    assert not client.allows("approve"), "a key never approves"
    with pytest.raises(ValueError):
        pos_client_create(store=store_a, name="x", permissions={"can_approve": True})


# --- Refunds without an original payment ---------------------------------------------------


def test_unreferenced_refunds_are_refused_to_keys_and_roles_not_configured(
    store_a, terminal_a, manager_a
):
    key, _ = pos_client_create(store=store_a, name="Caja")
    error = _refused(
        Code.UNREFERENCED_REFUND_NOT_ALLOWED,
        refund_create,
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("10.00"),
        pos_client=key,
    )
    assert error.field == "original"
    _refused(
        Code.UNREFERENCED_REFUND_NOT_ALLOWED,
        refund_create,
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("10.00"),
        user=manager_a,
    )


def test_unreferenced_refund_rule_lets_configured_keys_and_owners_through(store_a, owner):
    key, _ = pos_client_create(
        store=store_a, name="Caja", permissions={"can_refund_unreferenced": True}
    )
    controls.require_unreferenced_refund(store=store_a, user=None, pos_client=key)
    controls.require_unreferenced_refund(store=store_a, user=owner, pos_client=None)


# --- Refund windows per brand --------------------------------------------------------------


def test_a_payment_older_than_its_brands_window_is_not_refunded(store_a, terminal_a, owner):
    set_money_controls(store_a, refund_window_days={"VISA": 30, "*": 90})
    paid = timezone.now() - timedelta(days=31)
    payment = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, finished_at=paid, card_brand="Visa"
    )
    error = _refused(
        Code.REFUND_WINDOW_EXPIRED,
        refund_create,
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("10.00"),
        original=payment,
        user=owner,
    )
    assert "VISA" in error.message and "30 días" in error.message
    assert paid.astimezone(store_a.tzinfo).strftime("%d/%m/%Y") in error.message


def test_refund_windows_fall_back_to_other_brands_and_to_none():
    store_controls = type("C", (), {"refund_window_days": {"AMEX": 15, "*": 60}})()
    assert controls.refund_window_days(store_controls, "AMEX") == 15
    assert controls.refund_window_days(store_controls, "VISA") == 60
    assert controls.refund_window_days(None, "VISA") is None


def test_a_payment_inside_its_window_passes_the_rule(store_a, terminal_a):
    store_controls = set_money_controls(store_a, refund_window_days={"VISA": 30})
    payment = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        finished_at=timezone.now() - timedelta(days=29),
    )
    controls.check_refund_window(payment=payment, controls=store_controls)


# --- Daily refund limit --------------------------------------------------------------------


def test_the_daily_refund_limit_counts_todays_live_and_approved_refunds(store_a, terminal_a, owner):
    payment = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("5000.00")
    )
    set_money_controls(store_a, daily_refund_limit=Decimal("1000.00"))
    for state, amount in [
        (State.APPROVED, "600.00"),
        (State.APPROVAL_PENDING, "200.00"),
        (State.DECLINED, "900.00"),  # moved no money: not counted
    ]:
        make_intent(
            store_a,
            terminal=terminal_a,
            kind=Kind.REFUND,
            state=state,
            amount=Decimal(amount),
            original=payment,
        )
    assert controls.refunds_of_day(store=store_a) == Decimal("800.00")
    error = _refused(
        Code.DAILY_REFUND_LIMIT_EXCEEDED,
        refund_create,
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("200.01"),
        original=payment,
        user=owner,
    )
    assert "$ 1.000,00" in error.message and "$ 200,00" in error.message
    # Up to the limit passes the rule.
    controls.check_daily_refund_limit(
        store=store_a, amount=Decimal("200.00"), controls=store_a.money_controls
    )


def test_yesterdays_refunds_do_not_count(store_a, terminal_a, payment):
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.APPROVED,
        amount=Decimal("900.00"),
        original=payment,
    )
    Intent.objects.filter(kind=Kind.REFUND).update(created_at=timezone.now() - timedelta(days=1))
    assert controls.refunds_of_day(store=store_a) == Decimal("0.00")


# --- Maker-checker needs --------------------------------------------------------------------


def test_below_or_at_the_threshold_nothing_waits(store_a, payment):
    store_controls = set_money_controls(
        store_a,
        refund_approval_threshold=Decimal("500.00"),
        reversal_approval_threshold=Decimal("1000.00"),
    )
    assert controls.refund_approval_need(amount=Decimal("500.00"), controls=store_controls) is None
    assert controls.reversal_approval_need(payment=payment, controls=store_controls) is None
    need = controls.refund_approval_need(amount=Decimal("500.01"), controls=store_controls)
    assert need is not None and need.threshold == Decimal("500.00")
    assert "$ 500,00" in need.reason
    assert controls.refund_approval_need(amount=Decimal("9e6"), controls=None) is None


# --- Cash-back and QR benefits ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "installments", "brand", "code"),
    [
        ("qr", 1, "", Code.CASHBACK_NOT_ALLOWED),
        ("card", 3, "", Code.CASHBACK_NOT_ALLOWED),
        ("card", 1, "VI", Code.CASHBACK_NOT_ALLOWED),
    ],
)
def test_cashback_only_on_a_debit_card_in_one_installment(
    store_a, terminal_a, method, installments, brand, code
):
    set_money_controls(store_a, cashback_max=Decimal("5000.00"))
    error = _refused(
        code,
        payment_create,
        store=store_a,
        terminals=[terminal_a],
        amount=Decimal("100.00"),
        installments=installments,
        brand=brand,
        method=method,
        change_amount="1000.00",
    )
    assert error.field == "change_amount"


def test_cashback_follows_the_stores_limit(store_a, terminal_a):
    error = _refused(
        Code.CASHBACK_NOT_ALLOWED,
        payment_create,
        store=store_a,
        terminals=[terminal_a],
        amount=Decimal("100.00"),
        change_amount="10.00",
    )
    assert "no da extracciones" in error.message
    set_money_controls(store_a, cashback_max=Decimal("5000.00"))
    error = _refused(
        Code.CASHBACK_LIMIT_EXCEEDED,
        payment_create,
        store=store_a,
        terminals=[terminal_a],
        amount=Decimal("100.00"),
        brand="EL",
        change_amount="5000.01",
    )
    assert "$ 5.000,00" in error.message
    allowed = controls.clean_cashback(
        "5000.00", store=store_a, method="card", installments=1, brand="EL"
    )
    assert allowed == Decimal("5000.00")
    assert controls.clean_cashback("0", store=store_a, method="qr", installments=6, brand="VI") == 0


def test_qr_benefits_only_on_qr(store_a, terminal_a):
    _refused(
        Code.QR_BENEFIT_NOT_ALLOWED,
        payment_create,
        store=store_a,
        terminals=[terminal_a],
        amount=Decimal("100.00"),
        qr_benefit=True,
    )
    assert controls.clean_qr_benefit(True, method="qr") is True
    assert controls.clean_qr_benefit(False, method="card") is False
    assert controls.clean_qr_benefit(None, method="card") is None


def test_no_approval_request_is_left_by_a_refusal(store_a, terminal_a, payment, owner):
    set_money_controls(
        store_a, refund_approval_threshold=Decimal("1.00"), daily_refund_limit=Decimal("5.00")
    )
    _refused(
        Code.DAILY_REFUND_LIMIT_EXCEEDED,
        refund_create,
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("10.00"),
        original=payment,
        user=owner,
    )
    assert not ApprovalRequest.objects.exists()


def test_a_reversal_whose_batch_closed_while_waiting_is_cancelled_not_sent(
    store_a, terminal_a, payment, manager_a, owner
):
    set_money_controls(store_a, reversal_approval_threshold=Decimal("1.00"))
    reversal = reversal_create(payment=payment, user=manager_a)
    assert reversal.state == State.APPROVAL_PENDING
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        finished_at=timezone.now() + timedelta(seconds=1),
    )
    with pytest.raises(IntentRuleError) as exc:
        approval_approve(intent=reversal, user=owner)
    assert exc.value.code == Code.BATCH_CLOSED and "se canceló" in exc.value.message
    reversal.refresh_from_db()
    assert reversal.state == State.CANCELLED
    assert ApprovalRequest.objects.get(intent=reversal).status == ApprovalRequest.Status.REJECTED
    assert not GatewayCall.objects.exists()
