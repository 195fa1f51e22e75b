"""Input rules of the intent services. Each refusal is an IntentRuleError with a stable code.

They run before anything is written, so a refused request leaves no row behind.
"""

import unicodedata
from decimal import Decimal, InvalidOperation

from django.conf import settings

from stores import golive
from stores.models import Store, Terminal
from transactions.brands import BRAND_PRODUCTS
from transactions.errors import Code, IntentRuleError
from transactions.models import Method, PrintCopies
from transactions.money import AmountUnreadable, format_ars, parse_amount

MAX_INSTALLMENTS = 24
MENU_TEXT_MAX = 40
REFERENCE_MAX = 64


def clean_amount(value, *, field: str = "amount") -> Decimal:
    """A positive Decimal with at most two decimals, below the configured ceiling.

    Floats are refused outright: 0.1 + 0.2 is not a price. Text is read by the project's one
    amount reader in its canonical form (`money.parse_amount`): ASCII digits, `1234.56`.
    """
    if isinstance(value, float | bool):
        raise IntentRuleError(
            Code.AMOUNT_INVALID, "El importe debe ser un número decimal en texto.", field=field
        )
    if isinstance(value, str):
        try:
            value = parse_amount(value, es_ar=False)
        except AmountUnreadable as exc:
            raise IntentRuleError(Code.AMOUNT_INVALID, str(exc), field=field) from exc
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise IntentRuleError(
            Code.AMOUNT_INVALID, "El importe no es un número.", field=field
        ) from exc
    if not amount.is_finite():
        raise IntentRuleError(Code.AMOUNT_INVALID, "El importe no es un número.", field=field)
    if amount <= 0:
        raise IntentRuleError(
            Code.AMOUNT_INVALID, "El importe debe ser mayor que cero.", field=field
        )
    ceiling = Decimal(settings.ECR_MAX_AMOUNT)
    if amount > ceiling:
        raise IntentRuleError(
            Code.AMOUNT_TOO_LARGE,
            f"El importe supera el máximo permitido ({format_ars(ceiling)}).",
            field=field,
        )
    # After the ceiling: quantize of a huge number would overflow the context.
    if amount != amount.quantize(Decimal("0.01")):
        raise IntentRuleError(
            Code.AMOUNT_INVALID, "El importe admite como máximo dos decimales.", field=field
        )
    return amount.quantize(Decimal("0.01"))


def clean_installments(value) -> int:
    # Only whole numbers, as int or digit text: int(2.9) silently truncating would be a bug.
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not text.isdigit():
        raise IntentRuleError(
            Code.INSTALLMENTS_INVALID,
            "Las cuotas deben ser un número entero.",
            field="installments",
        )
    number = int(text)
    if not 1 <= number <= MAX_INSTALLMENTS:
        raise IntentRuleError(
            Code.INSTALLMENTS_INVALID,
            f"Las cuotas deben estar entre 1 y {MAX_INSTALLMENTS}.",
            field="installments",
        )
    return number


def clean_brand(value: str | None) -> str:
    brand = (value or "").strip().upper()
    if brand and brand not in BRAND_PRODUCTS:
        raise IntentRuleError(
            Code.BRAND_INVALID, f"Marca de tarjeta desconocida: {brand}.", field="brand"
        )
    return brand


def clean_method(value: str | None) -> str:
    method = (value or Method.CARD).strip().lower()
    if method not in Method.values:
        raise IntentRuleError(
            Code.METHOD_INVALID, "El medio debe ser 'card' (tarjeta) o 'qr'.", field="method"
        )
    return method


def clean_print_copies(value: str | None) -> str:
    copies = (value or PrintCopies.BOTH).strip().upper()
    if copies not in PrintCopies.values:
        raise IntentRuleError(
            Code.TEXT_INVALID,
            "Copias del ticket: BOTH, MERCHANT_ONLY, CUSTOMER_ONLY o NONE.",
            field="print_copies",
        )
    return copies


# Characters that reorder what a person reads (a reference shown as "PEDIDO-12" but stored as
# something else): the bidi embeddings, overrides and isolates.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(ch: str) -> bool:
    """C0, DEL and C1 controls (NUL included, which PostgreSQL cannot store) and bidi controls."""
    return unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS


def clean_text(value: str | None, *, field: str, max_length: int) -> str:
    text = (value or "").strip()
    if len(text) > max_length:
        raise IntentRuleError(Code.TEXT_INVALID, f"Máximo {max_length} caracteres.", field=field)
    if any(_is_control(ch) for ch in text):
        raise IntentRuleError(
            Code.TEXT_INVALID, "Caracteres de control no permitidos.", field=field
        )
    return text


def clean_terminals(*, store: Store, terminals: list[Terminal]) -> list[Terminal]:
    if not terminals or any(t is None for t in terminals):
        raise IntentRuleError(
            Code.TERMINAL_NOT_IN_STORE, "Indique al menos una terminal.", field="terminal"
        )
    unique = {t.pk: t for t in terminals}
    for terminal in unique.values():
        if terminal.store_id != store.pk:
            raise IntentRuleError(
                Code.TERMINAL_NOT_IN_STORE,
                "La terminal no pertenece a la sucursal.",
                field="terminal",
            )
        if not terminal.enabled:
            raise IntentRuleError(
                Code.TERMINAL_DISABLED,
                f"La terminal {terminal.terminal_id} está deshabilitada.",
                field="terminal",
            )
    return sorted(unique.values(), key=lambda t: t.pk)


def clean_go_live(*, store: Store, terminals: list[Terminal], environment: str) -> None:
    """Each offered terminal must suit the environment (test terminals in sandbox and
    homologation, production ones in production) and, in production, the pilot gate
    (`stores.golive`)."""
    for terminal in terminals:
        refusal = golive.charge_problem(store=store, terminal=terminal, environment=environment)
        if refusal is not None:
            code = Code.PILOT_GATE if refusal.kind == "pilot" else Code.TERMINAL_WRONG_PURPOSE
            raise IntentRuleError(code, refusal.message, field="terminal")
