"""One amount reader for the dashboard and the API (issue 11 #15).

`0.001` charged $ 1,00 and `0.500` $ 500,00 in the dashboard, and full-width or Arabic-Indic
digits were read (`１２３` -> $ 123). Now both read amounts with `transactions.money.parse_amount`:
ASCII digits only, es-AR and plain decimals, anything ambiguous refused with a message that
shows how to write it. Refunds use the same field.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from transactions import rules
from transactions.dashboard.forms import ChargeForm, RefundForm
from transactions.errors import IntentRuleError
from transactions.models import Intent
from transactions.money import AmountUnreadable, parse_amount

HOSTILE = ["0.001", "0.500", "0.050", "１２３", "١٢٣", "۱۲۳", "1２3", "१२३", "12.345,678", "1,500"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("$ 1.234", "1234.00"),
        ("1.234.567", "1234567.00"),
        ("0,50", "0.50"),
        ("0.5", "0.50"),
        ("15", "15.00"),
    ],
)
def test_es_ar_and_plain_decimals_are_read(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", HOSTILE)
def test_ambiguous_amounts_and_other_digits_are_refused_with_an_example(text):
    with pytest.raises(AmountUnreadable) as exc:
        parse_amount(text)
    assert "1.234,56" in str(exc.value)  # the message shows how to write it


@pytest.mark.parametrize("text", HOSTILE)
def test_the_charge_and_refund_forms_refuse_them(text):
    charge = ChargeForm({"amount": text, "installments": "1", "method": "card"})
    refund = RefundForm({"amount": text})
    assert not charge.is_valid() and "amount" in charge.errors
    assert not refund.is_valid() and "amount" in refund.errors


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["0.500", "１２３"])
def test_a_dashboard_charge_of_an_ambiguous_amount_creates_nothing(
    client_for, manager_a, terminal_a, text
):
    response = client_for(manager_a).post(
        reverse("dashboard:terminal_charge", args=[terminal_a.public_id]),
        {"amount": text, "installments": "1", "brand": "", "method": "card"},
    )
    assert "1.234,56" in response.content.decode()
    assert not Intent.objects.exists()


@pytest.mark.parametrize("text", ["１２３", "١٢٣.00", "1e3", "1_000", " 5.00", "5,00"])
def test_the_services_read_text_amounts_the_same_way(text):
    with pytest.raises(IntentRuleError) as exc:
        rules.clean_amount(text)
    assert exc.value.code == "amount_invalid"
    assert rules.clean_amount("1500.5") == Decimal("1500.50")
