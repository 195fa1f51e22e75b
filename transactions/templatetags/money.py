"""Template filters for money and time (the formatting itself is `transactions.money`)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils import timezone

from transactions.money import format_ars, format_decimal_es, to_decimal

register = template.Library()


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
    part_d, whole_d = to_decimal(part), to_decimal(whole)
    if not part_d or not whole_d:
        return "0"
    pct = (part_d * 100 / whole_d).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return str(max(Decimal(0), min(Decimal(100), pct)))
