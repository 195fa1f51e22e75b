"""Pure conversions between the provider's wire format and the portal's values.

Amounts: `Decimal` in the portal, strings of integer cents on the wire. Dates: the provider's
format and time zone are not known for sure (contract §5), so they are parsed leniently and
returned aware in UTC. Redaction: answers are stored (IntentEvent.raw) without card holder data
or anything that looks like a full card number.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

PROVIDER_TZ = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
_CENT = Decimal("0.01")


# --- Amounts ------------------------------------------------------------------------------------


def to_cents(amount: Decimal) -> str:
    """`Decimal("1520.50")` -> `"152050"`. Refuses floats, more than two decimals, and <= 0."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise ValueError(f"el importe debe ser Decimal, no {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError("el importe no es un número finito")
    if value != value.quantize(_CENT):
        raise ValueError(f"el importe {value} tiene más de dos decimales")
    if value <= 0:
        raise ValueError(f"el importe debe ser mayor que cero (recibido {value})")
    return str(int(value * 100))


def from_cents(value: Any) -> Decimal | None:
    """An answer amount to pesos. Integer cents (`"152050"` or `152050`) is what the provider
    sends; a value with a decimal point is taken as pesos already. Anything else: None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (Decimal(value) / 100).quantize(_CENT)
    if isinstance(value, Decimal):
        return value.quantize(_CENT)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return (Decimal(text) / 100).quantize(_CENT)
        if re.fullmatch(r"-?\d+[.,]\d{1,2}", text):
            try:
                return Decimal(text.replace(",", ".")).quantize(_CENT)
            except InvalidOperation:
                return None
    return None


def to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def to_str(value: Any) -> str | None:
    """Verbatim text of a scalar field (`87` -> `"87"`); None for null, empty or containers."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value)
    return text if text != "" else None


# --- Dates --------------------------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_FALLBACK_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y%m%d%H%M%S")


def parse_datetime(value: Any) -> datetime | None:
    """A provider date as an aware UTC datetime, or None when it cannot be read.

    Accepts ISO 8601 with or without milliseconds, with an offset, `Z`, or none (then Buenos
    Aires time is assumed), a space instead of `T`, dd/mm/yyyy forms and epoch seconds or
    milliseconds. Garbage gives None, never an exception.
    """
    if value is None or isinstance(value, bool):
        return None
    parsed: datetime | None
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, int | float | Decimal):
            # Seconds or (past 1e11) milliseconds since the epoch, kept exact in milliseconds.
            millis = int(value) if value > 1e11 else int(Decimal(str(value)) * 1000)
            return datetime.fromtimestamp(millis // 1000, tz=UTC) + timedelta(
                milliseconds=millis % 1000
            )
        elif isinstance(value, str):
            parsed = _parse_text(value.strip())
            if parsed is None:
                return None
        else:
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=PROVIDER_TZ)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _parse_text(text: str) -> datetime | None:
    if not text:
        return None
    if re.fullmatch(r"\d{10}(\d{3})?", text):
        return parse_datetime(int(text))  # epoch as a string
    iso = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} \d", text) else text
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    iso = _FRACTION.sub(lambda m: m.group(1), iso, count=1)
    iso = _COMPACT_OFFSET.sub(r"\1:\2", iso) if "T" in iso else iso
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    for fmt in _FALLBACK_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # naive: the caller adds the zone
        except ValueError:
            continue
    return None


# --- Redaction ----------------------------------------------------------------------------------

# Keys whose values never leave the gateway: card holder identity and anything secret.
_DROP_KEYS = frozenset(
    {
        "card_holder",
        "card_holder_id",
        "card_holder_name",
        "card_holder_document",
        "card_number",
        "pan",
        "track1",
        "track2",
        "cvv",
        "cvc",
        "security_code",
        "expiration_date",
        "card_expiration",
        "access_token",
        "apikey",
        "api_key",
        "secret_key",
        "password",
    }
)
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def _mask_pan(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not _luhn_ok(digits):
        return match.group(0)
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def redact(value: Any) -> Any:
    """A deep copy of an answer without card holder data, secrets, or full card numbers.

    Digit runs of 13-19 digits that pass the Luhn check are masked to BIN + last four.
    """
    if isinstance(value, dict):
        return {
            key: redact(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.lower() in _DROP_KEYS)
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _DIGIT_RUN.sub(_mask_pan, value)
    if isinstance(value, int) and not isinstance(value, bool) and 13 <= len(str(abs(value))) <= 19:
        text = str(value)
        masked = _DIGIT_RUN.sub(_mask_pan, text)
        return value if masked == text else masked
    return value
