"""Pure conversions: cents, lenient dates, redaction."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from transactions.gateway.convert import from_cents, parse_datetime, redact, to_cents


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        (Decimal("1520.50"), "152050"),
        (Decimal("15"), "1500"),
        (Decimal("15.00"), "1500"),
        (Decimal("0.01"), "1"),
        (Decimal("10000000.00"), "1000000000"),
        (Decimal("1.5"), "150"),
    ],
)
def test_to_cents(amount, wire):
    assert to_cents(amount) == wire


@pytest.mark.parametrize(
    "amount",
    [Decimal("1.001"), Decimal("0"), Decimal("-5"), Decimal("0.00"), Decimal("NaN"), 15.5, "15"],
)
def test_to_cents_refuses(amount):
    with pytest.raises(ValueError):
        to_cents(amount)


@pytest.mark.parametrize(
    ("wire", "amount"),
    [
        ("152050", Decimal("1520.50")),
        (152050, Decimal("1520.50")),
        ("0", Decimal("0.00")),
        ("1520.50", Decimal("1520.50")),  # a decimal point means pesos already
        (None, None),
        ("", None),
        ("abc", None),
        ({"x": 1}, None),
        (True, None),
    ],
)
def test_from_cents(wire, amount):
    assert from_cents(wire) == amount


EXPECTED = datetime(2026, 11, 27, 18, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T15:04:05.123-03:00", EXPECTED.replace(microsecond=123000)),
        ("2026-11-27T15:04:05-03:00", EXPECTED),
        ("2026-11-27T15:04:05-0300", EXPECTED),
        ("2026-11-27T18:04:05Z", EXPECTED),
        ("2026-11-27T18:04:05.123456789Z", EXPECTED.replace(microsecond=123456)),
        ("2026-11-27T15:04:05", EXPECTED),  # naive: Buenos Aires
        ("2026-11-27 15:04:05", EXPECTED),
        ("27/11/2026 15:04:05", EXPECTED),
        (1795802645, EXPECTED),
        ("1795802645000", EXPECTED),
        ("no es una fecha", None),
        ("", None),
        (None, None),
        ({"a": 1}, None),
        ("2026-13-45T99:00:00", None),
    ],
)
def test_parse_datetime_is_lenient_and_utc(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset().total_seconds() == 0


def test_redact_drops_holder_and_masks_full_card_numbers():
    answer = {
        "payment_data": {
            "card_holder": "GOMEZ/ANA",
            "card_holder_id": "20123456",
            "bin": "450799",
            "last_four_digits": "0010",
            "note": "tarjeta 4507990000000010 leída",
            "receipt": "VISA ****0010",
            "nsu": "000123456789",
            "list": [{"pan": "4507990000000010"}, 4507990000000010],
        }
    }
    safe = redact(answer)
    data = safe["payment_data"]
    assert "card_holder" not in data and "card_holder_id" not in data
    assert data["bin"] == "450799" and data["last_four_digits"] == "0010"
    assert data["note"] == "tarjeta 450799******0010 leída"
    assert data["receipt"] == "VISA ****0010"
    assert data["nsu"] == "000123456789"  # 12 digits: not a card number
    assert data["list"] == [{}, "450799******0010"]
    assert "4507990000000010" not in repr(safe)
    # The input is not modified.
    assert answer["payment_data"]["card_holder"] == "GOMEZ/ANA"


def test_redact_keeps_long_numbers_that_are_not_cards():
    # 16 digits failing the Luhn check (e.g. a long reference) stay as they are.
    assert redact({"ref": "1234567890123456"}) == {"ref": "1234567890123456"}
