"""Validation of Argentine tax ids (CUIT/CUIL), Prisma terminal ids and provider base URLs."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from stores.address_policy import Reach, host_reach, is_local_name

_CUIT_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
# ASCII digits only: `\d` also matches full-width or Arabic-Indic digits, which would store a
# second spelling of a terminal number and escape its uniqueness.
_TERMINAL_ID = re.compile(r"[0-9]{8}")
# The provider's sandbox insists on this fictitious CUIT, whose check digit is wrong (the valid
# digit for 30-12345678 is 1). Merchants used only with sandbox credentials may carry it.
SANDBOX_CUIT = "30-12345678-9"


def cuit_digits(value: str) -> str:
    """Strips dashes, dots and spaces; raises if what is left is not 11 digits."""
    raw = (value or "").strip()
    digits = re.sub(r"[\s.\-]", "", raw)
    if not re.fullmatch(r"[0-9]+", digits):  # str.isdigit() also takes non-ASCII digits
        raise ValidationError("El CUIT solo puede contener números y guiones.", code="cuit_format")
    if len(digits) != 11:
        raise ValidationError("El CUIT debe tener 11 dígitos.", code="cuit_length")
    return digits


def cuit_check_digit(first_ten: str) -> int | None:
    """The check digit AFIP's modulo-11 rule gives, or None when the rule gives 10 (then no CUIT
    with these first ten digits is valid)."""
    total = sum(int(d) * w for d, w in zip(first_ten, _CUIT_WEIGHTS, strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    return None if digit == 10 else digit


def normalize_cuit(value: str) -> str:
    """Returns the CUIT as `XX-XXXXXXXX-X` without checking the check digit."""
    digits = cuit_digits(value)
    return f"{digits[:2]}-{digits[2:10]}-{digits[10]}"


def cuit_has_valid_check_digit(value: str) -> bool:
    digits = cuit_digits(value)
    return cuit_check_digit(digits[:10]) == int(digits[10])


def validate_cuit(value: str) -> None:
    """Django validator: 11 digits with a valid check digit."""
    normalize_cuit(value)
    if not cuit_has_valid_check_digit(value):
        raise ValidationError(
            "El dígito verificador del CUIT no es válido.", code="cuit_check_digit"
        )


def validate_terminal_id(value: str) -> None:
    if not _TERMINAL_ID.fullmatch(value or ""):
        raise ValidationError(
            "El número de terminal debe tener exactamente 8 dígitos.", code="terminal_id"
        )


def provider_url_problem(url: str) -> str:
    """Why a credential's base URL may not be used ("" if it may).

    The portal sends the credential's keys to this URL, so in production it must be https and
    must not name an internal address (loopback, private ranges, cloud metadata) or `localhost`.
    Names are not resolved here: validation must not depend on DNS. In development (DEBUG) the
    local simulator on http://127.0.0.1 is allowed.
    """
    if settings.DEBUG:
        return ""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "La URL de Prisma debe ser https."
    host = (parts.hostname or "").lower()
    if is_local_name(host):
        return "La URL de Prisma no puede apuntar a este servidor."
    if host_reach(host) in (Reach.LOOPBACK, Reach.INTERNAL):
        return "La URL de Prisma no puede apuntar a una dirección interna."
    return ""
