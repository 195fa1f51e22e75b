"""Card brands: one label per brand whatever the spelling or product code, and one product table
behind the input rules, the API and the dashboard's charge form."""

import pytest

from transactions import brands, rules
from transactions.dashboard import forms


@pytest.mark.parametrize(
    ("card_brand", "card_brand_code"),
    [
        ("Visa", ""),
        ("VISA", ""),
        ("visa", ""),
        (" Visa ", "VI"),
        ("", "VI"),
        ("", "EL"),
        ("", "vi"),
    ],
)
def test_every_spelling_and_product_of_visa_is_one_label(card_brand, card_brand_code):
    assert brands.brand_label(card_brand, card_brand_code) == "VISA"


@pytest.mark.parametrize(
    ("card_brand", "card_brand_code"),
    [("American Express", "AM"), ("american  express", ""), ("AMEX", ""), ("", "AM")],
)
def test_american_express_is_amex_as_the_closing_ticket_prints_it(card_brand, card_brand_code):
    assert brands.brand_label(card_brand, card_brand_code) == "AMEX"


def test_the_reported_brand_wins_over_the_product_code():
    assert brands.brand_label("MASTERCARD", "VI") == "MASTERCARD"
    assert brands.brand_label("", "PD") == "MASTERCARD"
    assert brands.brand_label("", "C2") == "CABAL"


def test_an_unknown_code_is_shown_as_it_came_and_nothing_is_sin_marca():
    assert brands.brand_label("", "ZZ") == "ZZ"
    assert brands.brand_label("", "") == "Sin marca"
    assert brands.brand_label(None, None) == "Sin marca"


def test_rules_the_api_and_the_charge_form_read_the_one_product_table():
    assert rules.BRAND_PRODUCTS is brands.BRAND_PRODUCTS
    assert list(brands.BRAND_PRODUCTS) == ["VI", "EL", "MC", "PD", "MA", "AM", "CA", "C2", "NA"]
    assert brands.BRAND_PRODUCTS["EL"] == "Visa Débito"
    assert brands.brand_choices() == forms.BRAND_CHOICES
    assert [code for code, _ in forms.BRAND_CHOICES] == ["", *brands.BRAND_PRODUCTS]
    assert forms.BRAND_CHOICES[:3] == [
        ("", "Cualquier tarjeta"),
        ("VI", "Visa crédito (VI)"),
        ("EL", "Visa débito / Electron (EL)"),
    ]
