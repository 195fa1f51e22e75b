"""Amounts as people read and type them in Argentina."""

from decimal import Decimal

import pytest
from django import forms

from transactions.dashboard.forms import parse_amount
from transactions.money import format_ars, format_decimal_es


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.56"), "$ 1.234,56"),
        (Decimal("0.5"), "$ 0,50"),
        (Decimal("1000000"), "$ 1.000.000,00"),
        (Decimal("-1234.5"), "-$ 1.234,50"),
        (Decimal("999.995"), "$ 1.000,00"),
        ("12", "$ 12,00"),
        (None, "—"),
    ],
)
def test_ars(value, expected):
    assert format_ars(value) == expected


def test_decimal_without_thousands_for_csv():
    assert format_decimal_es(Decimal("1234567.8"), thousands=False) == "1234567,80"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", Decimal("1234.56")),
        ("1234,56", Decimal("1234.56")),
        ("1234.56", Decimal("1234.56")),
        ("1,234.56", Decimal("1234.56")),
        ("$ 1.234", Decimal("1234.00")),
        ("1.234.567", Decimal("1234567.00")),
        ("15", Decimal("15.00")),
        ("0,5", Decimal("0.50")),
    ],
)
def test_parse_amount_accepts_es_ar_and_plain(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "12.345,678", "-5", "0", "1.2.3"])
def test_parse_amount_refuses_nonsense(text):
    with pytest.raises(forms.ValidationError):
        parse_amount(text)


def test_state_label_gives_the_spanish_name_and_tolerates_unknown_values():
    from transactions.templatetags.dashboard import state_label

    assert state_label("pending") == "Esperando terminal"
    assert state_label("in_doubt") == "En duda"
    assert state_label("") == "·"
    assert state_label("weird") == "weird"
