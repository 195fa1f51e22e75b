"""Money formatting for Argentine readers: `$ 1.234,56`, whatever the server locale.

Formatting is done by hand on `Decimal` (never `float`, never `locale`): the process locale of a
server is not something a receipt amount should depend on. Used by services (texts on the
terminal, error messages), templates (`ars` filter) and exports.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_CENT = Decimal("0.01")


def to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # Floats are never money here; str() keeps the shortest repr instead of binary noise.
        value = str(value)
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


def format_decimal_es(value, *, thousands: bool = True) -> str:
    """`1234.5` -> `1.234,50` (or `1234,50` without thousands separators, as for CSV)."""
    amount = to_decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    units, _, cents = f"{abs(amount):.2f}".partition(".")
    if thousands:
        groups: list[str] = []
        while len(units) > 3:
            groups.insert(0, units[-3:])
            units = units[:-3]
        groups.insert(0, units)
        units = ".".join(groups)
    return f"{sign}{units},{cents}"


def format_ars(value) -> str:
    """`Decimal("1234.56")` -> `$ 1.234,56`; negatives as `-$ 1.234,56`; nothing as `—`."""
    text = format_decimal_es(value)
    if not text:
        return "—"
    if text.startswith("-"):
        return f"-$ {text[1:]}"
    return f"$ {text}"
