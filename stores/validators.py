"""Validation of Argentine tax ids (CUIT/CUIL), Prisma terminal ids and provider base URLs
(and the hosts the portal may send a credential's keys to)."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from stores.address_policy import Reach, host_reach, refused_address, resolve_addresses

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


# The provider's API hosts (contract §1: sandbox, homologation and production, on the Prisma and
# the Payway domains). With DEBUG=0 a credential may point only at these, or at a host the
# operator lists in ECR_PROVIDER_HOSTS.
PROVIDER_HOSTS = frozenset(
    {
        "api-sandbox.prismamediosdepago.com",
        "api-homo.prismamediosdepago.com",
        "api.prismamediosdepago.com",
        "api-sandbox.payway.com.ar",
        "api-homo.payway.com.ar",
        "api.payway.com.ar",
    }
)


def _bare(host: str) -> str:
    return host.lower().rstrip(".")


def _listed(host: str) -> bool:
    """Whether the operator listed the host in ECR_PROVIDER_HOSTS."""
    return _bare(host) in getattr(settings, "ECR_PROVIDER_HOSTS", ())


def provider_host_problem(host: str) -> str:
    """Why the portal may not send a credential's keys to `host` in production ("" if it may):
    with DEBUG=0 (and outside tests) only the provider's hosts and those in ECR_PROVIDER_HOSTS."""
    if settings.DEBUG or getattr(settings, "TESTING", False):
        return ""
    if _bare(host) in PROVIDER_HOSTS or _listed(host):
        return ""
    return (
        "La URL de Prisma debe ser la de la API de Prisma o Payway (p. ej. "
        "https://api.prismamediosdepago.com); otro host lo habilita el administrador del portal "
        "con ECR_PROVIDER_HOSTS."
    )


def provider_loopback_allowed(host: str, *, connecting: bool) -> bool:
    """Whether `host` may be this machine: in development (the simulator on 127.0.0.1), when
    connecting during tests (credentials of the test server), and for hosts the operator listed
    (the simulator run as its own process under DEBUG=0). Saving a loopback URL outside
    development keeps needing DEBUG, as it always did."""
    testing = connecting and getattr(settings, "TESTING", False)
    return bool(settings.DEBUG or testing or _listed(host))


def provider_url_problem(url: str) -> str:
    """Why a credential's base URL may not be used ("" if it may).

    The portal sends the credential's keys to this URL, so it must not reach this server or an
    internal network (private ranges, cloud metadata, `kubernetes.default.svc`...): a literal
    address is judged as it is, a name by every address it resolves to now (and again at every
    connection, `transactions.gateway.pinning`, because DNS changes; a name that does not
    resolve today is left to that check). Outside development it must be https and, with
    DEBUG=0, one of the provider's hosts (`provider_host_problem`). In development (DEBUG) the
    local simulator on http://127.0.0.1 is allowed.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "La URL de Prisma no tiene host."
    if parts.scheme != "https" and not (settings.DEBUG and parts.scheme == "http"):
        return "La URL de Prisma debe ser https."
    if parts.username or parts.password:
        return "La URL de Prisma no puede llevar usuario ni clave."
    problem = provider_host_problem(host)
    if problem:
        return problem
    loopback_ok = provider_loopback_allowed(host, connecting=False)
    reach = host_reach(host)
    if reach is Reach.LOOPBACK and not loopback_ok:
        return "La URL de Prisma no puede apuntar a este servidor."
    if reach is Reach.INTERNAL:
        return "La URL de Prisma no puede apuntar a una dirección interna."
    if reach is Reach.NAME:
        try:
            addresses = resolve_addresses(host)
        except OSError:
            return ""
        refused = refused_address(addresses, allow_loopback=loopback_ok)
        if refused:
            return f"La URL de Prisma apunta a una dirección interna ({refused})."
    return ""
