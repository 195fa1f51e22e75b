"""Terminal numbers and CUITs take ASCII digits only (issue 11 #16): `１２３４５６７８` is not a
second spelling of `12345678` that escapes the terminal number's uniqueness."""

import pytest
from django.core.exceptions import ValidationError

from stores.models import Terminal
from stores.validators import normalize_cuit, validate_terminal_id
from tests import factories

NON_ASCII_TERMINALS = [
    "１２３４５６７８",  # full-width
    "١٢٣٤٥٦٧٨",  # Arabic-Indic
    "۱۲۳۴۵۶۷۸",  # extended Arabic-Indic (Persian)
    "१२३४५६७८",  # Devanagari
    "1234567８",  # one full-width digit is enough
    "12345678\n",  # `$` used to let a trailing newline through
]


@pytest.mark.parametrize("value", NON_ASCII_TERMINALS)
def test_terminal_numbers_in_other_digits_are_refused(value):
    with pytest.raises(ValidationError):
        validate_terminal_id(value)


@pytest.mark.django_db
def test_a_full_width_copy_of_a_terminal_number_is_not_saved(store_a):
    factories.make_terminal(store_a, terminal_id="12345678")
    copy = Terminal(store=store_a, terminal_id="１２３４５６７８")
    with pytest.raises(ValidationError) as exc:
        copy.full_clean()
    assert "terminal_id" in exc.value.message_dict


@pytest.mark.parametrize("value", ["３０-７１２３４５６７-１", "٣٠٧١٢٣٤٥٦٧١"])
def test_cuits_in_other_digits_are_refused(value):
    with pytest.raises(ValidationError):
        normalize_cuit(value)
