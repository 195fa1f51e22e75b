"""Every business rule refuses with its own code and leaves nothing behind."""

from decimal import Decimal

import pytest

from transactions.errors import IntentRuleError
from transactions.models import Intent
from transactions.services import payment_create


@pytest.fixture
def charge(store_a, terminal_a, credential):
    def _charge(**kw):
        kw.setdefault("amount", Decimal("10.00"))
        kw.setdefault("terminals", [terminal_a])
        return payment_create(store=store_a, **kw)

    return _charge


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("0"), "amount_invalid"),
        (Decimal("-5.00"), "amount_invalid"),
        (Decimal("1.234"), "amount_invalid"),
        ("abc", "amount_invalid"),
        ("NaN", "amount_invalid"),
        ("Infinity", "amount_invalid"),
        (1.5, "amount_invalid"),
        (Decimal("1e30"), "amount_too_large"),
        (Decimal("10000000.01"), "amount_too_large"),
    ],
)
def test_bad_amounts_are_refused_without_a_row(charge, amount, code):
    with pytest.raises(IntentRuleError) as exc:
        charge(amount=amount)
    assert exc.value.code == code
    assert exc.value.field == "amount"
    assert Intent.objects.count() == 0


@pytest.mark.parametrize("installments", [0, 25, -1, "x", 2.5, True, "3.0"])
def test_bad_installments_are_refused(charge, installments):
    with pytest.raises(IntentRuleError) as exc:
        charge(installments=installments)
    assert exc.value.code == "installments_invalid"
    assert Intent.objects.count() == 0


def test_unknown_brand_and_method_are_refused(charge):
    with pytest.raises(IntentRuleError) as exc:
        charge(brand="ZZ")
    assert exc.value.code == "brand_invalid"
    with pytest.raises(IntentRuleError) as exc:
        charge(method="cash")
    assert exc.value.code == "method_invalid"
    assert Intent.objects.count() == 0


def test_disabled_terminal_and_other_store_terminal_are_refused(charge, terminal_a, terminal_b):
    with pytest.raises(IntentRuleError) as exc:
        charge(terminals=[terminal_b])
    assert exc.value.code == "terminal_not_in_store"
    terminal_a.enabled = False
    terminal_a.save()
    with pytest.raises(IntentRuleError) as exc:
        charge(terminals=[terminal_a])
    assert exc.value.code == "terminal_disabled"
    assert Intent.objects.count() == 0


def test_long_menu_text_is_refused(charge):
    with pytest.raises(IntentRuleError) as exc:
        charge(menu_text="x" * 41)
    assert exc.value.code == "text_invalid"


def test_store_without_credential_is_refused(store_a, terminal_a):
    with pytest.raises(IntentRuleError) as exc:
        payment_create(store=store_a, terminals=[terminal_a], amount=Decimal("1"))
    assert exc.value.code == "credential_missing"
    assert Intent.objects.count() == 0


def test_role_without_charge_permission_is_refused(charge, finance):
    with pytest.raises(IntentRuleError) as exc:
        charge(user=finance)
    assert exc.value.code == "forbidden"
    assert exc.value.http_status == 403
    assert Intent.objects.count() == 0


def test_a_missing_terminal_is_a_rule_error_not_a_crash(store_a, credential):
    from transactions.services import refund_create

    with pytest.raises(IntentRuleError) as exc:
        refund_create(store=store_a, terminal=None, amount=Decimal("1.00"))
    assert exc.value.code == "terminal_not_in_store"
    assert Intent.objects.count() == 0
