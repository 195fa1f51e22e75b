"""Money and time formatting for Argentine readers: `$ 1.234,56`, whatever the server locale.

Formatting is done by hand on `Decimal` (never `float`, never `locale`): the process locale of a
server is not something a receipt amount should depend on.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import timezone

register = template.Library()

_CENT = Decimal("0.01")


def _to_decimal(value) -> Decimal | None:
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
    amount = _to_decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    units, _, cents = f"{abs(amount):.2f}".partition(".")
    if thousands:
        groups = []
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


@register.filter(name="ars")
def ars(value) -> str:
    return format_ars(value)


@register.filter(name="decimal_es")
def decimal_es(value) -> str:
    return format_decimal_es(value)


@register.filter(name="local_time")
def local_time(value, tz_name: str = "") -> str:
    """An aware datetime as `dd/mm/aaaa HH:MM:SS` in the store's zone (or the site's)."""
    if not value:
        return "—"
    if tz_name:
        import zoneinfo

        value = value.astimezone(zoneinfo.ZoneInfo(tz_name))
    else:
        value = timezone.localtime(value)
    return value.strftime("%d/%m/%Y %H:%M:%S")


@register.filter(name="percent_of")
def percent_of(part, whole) -> str:
    """`part` as a percentage (0-100, one decimal, dot separator) of `whole`, for SVG widths."""
    part_d, whole_d = _to_decimal(part), _to_decimal(whole)
    if not part_d or not whole_d:
        return "0"
    pct = (part_d * 100 / whole_d).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return str(max(Decimal(0), min(Decimal(100), pct)))
