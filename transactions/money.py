"""Money formatting for Argentine readers: `$ 1.234,56`, whatever the server locale.

Formatting is done by hand on `Decimal` (never `float`, never `locale`): the process locale of a
server is not something a receipt amount should depend on. Used by services (texts on the
terminal, error messages), templates (`ars` filter) and exports.
"""

import re
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


# --- Reading amounts ----------------------------------------------------------------------------
# One reader for every amount a person or a POS types. Only the ASCII digits 0-9: `Decimal()` and
# `\d` also read full-width or Arabic-Indic digits (`１２３` would charge $ 123,00).
_PLAIN = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")  # 1234.56, the API's canonical form
_PLAIN_COMMA = re.compile(r"[0-9]{1,12}(?:,[0-9]{1,2})?")  # 1234,56
# Thousands groups never follow a leading zero: `0.500` is not five hundred pesos.
_ES_AR = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3}){1,3}(?:,[0-9]{1,2})?")  # 1.234,56
_EN = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3}){1,3}\.[0-9]{1,2}")  # 1,234.56
AMOUNT_EXAMPLES = "1.234,56 o 1234,56 (o 1234.56)"


class AmountUnreadable(ValueError):
    """The text is not an amount this reader accepts; the message (Spanish) says how to write
    it."""


def parse_amount(text: str, *, es_ar: bool = True) -> Decimal:
    """A positive amount with at most two decimals, read from text.

    `es_ar` (the dashboard): `1.234,56`, `1234,56`, `1234.56`, `1,234.56`, `$ 1.234` or `1234`;
    a dot followed by groups of exactly three digits is a thousands separator, as in es-AR.
    Without it (the API): only the canonical `1234.56`. Anything that could be read two ways,
    or needs more than two decimals (`0.001`, `0.500`, `1,500`, `1.5.0`), is refused with a
    message that shows how to write it; so are digits other than ASCII 0-9. The ceiling is the
    services' rule (`transactions.rules.clean_amount`).
    """
    raw = text or ""
    if es_ar:  # the API takes the canonical form only, not even surrounding blanks
        raw = raw.strip().removeprefix("$").strip()
    if not raw:
        raise AmountUnreadable("Ingresá un importe.")
    if any(ch.isdigit() and ch not in "0123456789" for ch in raw):
        raise AmountUnreadable(
            f"Usá solo los dígitos 0 a 9 en el importe, p. ej. {AMOUNT_EXAMPLES}."
            if es_ar
            else 'Usá solo los dígitos 0 a 9 en el importe, p. ej. "1234.56".'
        )
    if _PLAIN.fullmatch(raw):
        amount = Decimal(raw)
    elif es_ar and _PLAIN_COMMA.fullmatch(raw):
        amount = Decimal(raw.replace(",", "."))
    elif es_ar and _ES_AR.fullmatch(raw):
        amount = Decimal(raw.replace(".", "").replace(",", "."))
    elif es_ar and _EN.fullmatch(raw):
        amount = Decimal(raw.replace(",", ""))
    elif es_ar:
        raise AmountUnreadable(
            f"El importe no es válido («{raw[:20]}»): los centavos van con coma y son como "
            f"máximo dos, y el punto separa miles; escribilo así: {AMOUNT_EXAMPLES}."
        )
    else:
        raise AmountUnreadable(
            "El importe debe ser un texto decimal positivo con hasta dos decimales, "
            'p. ej. "1500.00".'
        )
    if amount <= 0:
        raise AmountUnreadable("El importe tiene que ser mayor que cero.")
    return amount.quantize(_CENT)
