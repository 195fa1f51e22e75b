"""Strict checks of what the client sends; the first problem is answered 400 `campo: motivo`.

Stricter than the real API is known to be where the contract is silent (e.g. `terminal_menu_text`
longer than 40 characters is refused), so a sloppy client fails here rather than in production.
But not stricter than the real API is known to be: what clients that ran against it send is
accepted (issue 11, item 21): booleans in the query as `true`/`True`/`1` (and `false`/`False`/`0`),
`print_copies` also as a number of copies (0, 1, 2, or the same as a string), and fields the
simulator does not know are ignored. The portal's gateway keeps sending the canonical forms.
"""

import json
import re
from datetime import datetime, timedelta

from simulator.cards import PRODUCT_BRANDS
from simulator.errors import bad_request
from simulator.models import SimCredential
from simulator.receipts import ARGENTINA
from simulator.services import digits_only, state_get

PRINT_METHODS = {"MOBITEF_NON_FISCAL", "MOBITEF_FISCAL"}
PRINT_COPIES = {"MERCHANT_ONLY", "CUSTOMER_ONLY", "BOTH", "NONE"}
# `print_copies` as a number of copies, as older clients send it. One copy is the merchant's
# (the slip the cashier keeps), which is our reading: the contract only names the four words.
PRINT_COPIES_BY_NUMBER = {0: "NONE", 1: "MERCHANT_ONLY", 2: "BOTH"}
QUERY_TRUE = {"true", "True", "1"}
QUERY_FALSE = {"false", "False", "0"}
OPERATION_METHODS = {"CARD", "QR_CODE"}
MENU_TEXT_MAX = 40
# Contract §6: the provider's sandbox accepts only these fictitious data (the CUIT fails the
# check digit on purpose). Enforced for sandbox credentials when `sandbox_fixed_data` is on.
SANDBOX_CUIT = "30123456789"
SANDBOX_TERMINAL = "12345678"
SANDBOX_AMOUNT = "1500"
SANDBOX_BODY = {"merchant_group_code": "1238494234", "currency_code": "032"}
SEARCH_WINDOW_MAX = timedelta(days=31)


def invalid(field: str):
    return bad_request(f"{field}: formato inválido")


def json_body(request) -> dict:
    """The body as a JSON object; an empty body is `{}`."""
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("El cuerpo no es JSON válido") from None
    if not isinstance(body, dict):
        raise bad_request("El cuerpo debe ser un objeto JSON")
    return body


def _sandbox_strict(credential: SimCredential) -> bool:
    return credential.environment == "sandbox" and state_get().sandbox_fixed_data


def _sandbox_refused(field: str, value: str):
    return bad_request(f"sandbox: {field} debe ser el dato fijo de prueba ({value})")


def check_sandbox(
    credential: SimCredential,
    *,
    terminal_ids: list[str] = (),  # type: ignore[assignment]
    amount: tuple[str, object] | None = None,
    body: dict | None = None,
) -> None:
    """In sandbox mode, a sandbox credential's operations use only the fixed test data."""
    if not _sandbox_strict(credential):
        return
    if credential.cuit != SANDBOX_CUIT:
        raise _sandbox_refused("cuit_cuil", "30-12345678-9")
    if any(terminal_id != SANDBOX_TERMINAL for terminal_id in terminal_ids):
        raise _sandbox_refused("terminal_id", SANDBOX_TERMINAL)
    if amount is not None and amount[1] != SANDBOX_AMOUNT:
        raise _sandbox_refused(amount[0], SANDBOX_AMOUNT)
    for field, value in SANDBOX_BODY.items() if body is not None else ():
        if body.get(field) != value:
            raise _sandbox_refused(field, value)


def check_cuit(request, credential: SimCredential) -> None:
    """`cuit_cuil` in the query must be the credential's CUIT, dashed or plain digits."""
    raw = request.GET.get("cuit_cuil")
    if not raw:
        raise bad_request("cuit_cuil: requerido")
    if not re.fullmatch(r"\d{2}-\d{8}-\d|\d{11}", raw):
        raise invalid("cuit_cuil")
    if digits_only(raw) != credential.cuit:
        raise bad_request("cuit_cuil: no corresponde a la credencial")
    check_sandbox(credential)


def check_subnet(value, credential: SimCredential) -> None:
    if value is None or value == "":
        raise bad_request("subnet_acquirer_id: requerido")
    if not isinstance(value, str) or value not in {"1", "2", "9"}:
        raise invalid("subnet_acquirer_id")
    if value != credential.subnet_acquirer_id:
        raise bad_request("subnet_acquirer_id: no corresponde al ambiente de la credencial")


def check_query(request, credential: SimCredential) -> None:
    """Reads and cancels carry both `cuit_cuil` and `subnet_acquirer_id` in the query."""
    check_cuit(request, credential)
    check_subnet(request.GET.get("subnet_acquirer_id"), credential)


def _cents(data: dict, field: str, *, required: bool = True, allow_zero: bool = False) -> int:
    value = data.get(field)
    if value is None and not required:
        return 0
    # Amounts are strings of integer cents; a number or a decimal point is a client bug.
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,13}", value):
        raise invalid(field)
    cents = int(value)
    if cents == 0 and not allow_zero:
        raise invalid(field)
    return cents


def _choice(data: dict, field: str, choices: set[str]) -> str:
    value = data.get(field)
    if value not in choices:
        raise invalid(field)
    return value


def _print_copies(data: dict) -> str:
    """One of the four words, or a number of copies (an int or a string of digits)."""
    value = data.get("print_copies")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in PRINT_COPIES_BY_NUMBER:
            raise invalid("print_copies")
        return PRINT_COPIES_BY_NUMBER[value]
    return _choice(data, "print_copies", PRINT_COPIES)


def query_bool(request, field: str) -> bool:
    """A boolean in the query: `true`, `True` or `1`; `false`, `False` or `0`."""
    value = request.GET.get(field)
    if value in QUERY_TRUE:
        return True
    if value in QUERY_FALSE:
        return False
    raise invalid(field)


def _optional_str(data: dict, field: str, max_length: int = 100) -> str | None:
    value = data.get(field)
    if value is not None and (not isinstance(value, str) or len(value) > max_length):
        raise invalid(field)
    return value


def _menu_text(data: dict) -> str:
    value = data.get("terminal_menu_text")
    if not isinstance(value, str) or not value.strip():
        raise invalid("terminal_menu_text")
    if len(value) > MENU_TEXT_MAX:
        raise bad_request(f"terminal_menu_text: longitud máxima {MENU_TEXT_MAX}")
    return value


def _terminal_ids(data: dict) -> list[str]:
    value = data.get("terminals_list")
    if not isinstance(value, list) or not value:
        raise invalid("terminals_list")
    ids = []
    for item in value:
        terminal_id = item.get("terminal_id") if isinstance(item, dict) else None
        if not isinstance(terminal_id, str) or not re.fullmatch(r"\d{8}", terminal_id):
            raise invalid("terminals_list")
        if terminal_id not in ids:
            ids.append(terminal_id)
    return ids


def _brand_product(data: dict) -> str | None:
    value = data.get("card_brand_product")
    if value is not None and value not in PRODUCT_BRANDS:
        raise invalid("card_brand_product")
    return value


def _qr_benefit_code(data: dict) -> bool | None:
    """Contract §3: `qr_benefit_code` is a bool or null ("allow benefit cards on QR")."""
    value = data.get("qr_benefit_code")
    if value is not None and not isinstance(value, bool):
        raise invalid("qr_benefit_code")
    return value


# Contract §3: `change_amount` is "cash back on debit". The provider's exact refusals are [U];
# the simulator refuses what cannot be a debit sale up front (400) and declines a credit card
# presented for one (`engine.terminal_pay`), the hardest answers for the client.
DEBIT_PRODUCTS = frozenset({"EL", "PD", "MA", "C2"})


def _check_cashback(clean: dict) -> None:
    if not clean["change_amount_cents"]:
        return
    if clean["operation_method"] != "CARD":
        raise bad_request("change_amount: la extracción solo se da con tarjeta de débito")
    if clean["installments"] != 1:
        raise bad_request("change_amount: la extracción no admite cuotas")
    product = clean["card_brand_product"]
    if product is not None and product not in DEBIT_PRODUCTS:
        raise bad_request(f"change_amount: {product} no es una tarjeta de débito")


def payment_request(data, credential: SimCredential) -> dict:
    if not isinstance(data, dict):
        raise bad_request("payment_request_data: requerido")
    check_subnet(data.get("subnet_acquirer_id"), credential)
    amount = _cents(data, "payment_amount")
    installments = data.get("installments_number")
    if not isinstance(installments, int) or isinstance(installments, bool):
        raise invalid("installments_number")
    if not 1 <= installments <= 99:
        raise invalid("installments_number")
    clean = {
        "amount_cents": amount,
        "installments": installments,
        "change_amount_cents": _cents(data, "change_amount", required=False, allow_zero=True),
        "menu_text": _menu_text(data),
        "ecr_transaction_id": _optional_str(data, "ecr_transaction_id"),
        "print_method": _choice(data, "print_method", PRINT_METHODS),
        "print_copies": _print_copies(data),
        "terminal_ids": _terminal_ids(data),
        "card_brand_product": _brand_product(data),
        "operation_method": _choice(data, "terminal_operation_method", OPERATION_METHODS),
        "qr_benefit_code": _qr_benefit_code(data),
    }
    _check_cashback(clean)
    if clean["qr_benefit_code"] and clean["operation_method"] != "QR_CODE":
        raise bad_request("qr_benefit_code: solo en pagos con QR_CODE")
    for field in ("ecr_provider", "ecr_name", "ecr_version", "trx_receipt_notes"):
        _optional_str(data, field, max_length=200)
    check_sandbox(
        credential,
        terminal_ids=clean["terminal_ids"],
        amount=("payment_amount", data.get("payment_amount")),
        body=data,
    )
    return clean


def refund_request(data: dict, credential: SimCredential) -> dict:
    check_subnet(data.get("subnet_acquirer_id"), credential)
    clean = {
        "amount_cents": _cents(data, "refund_amount"),
        "menu_text": _menu_text(data),
        "ecr_transaction_id": _optional_str(data, "ecr_transaction_id"),
        "print_copies": _print_copies(data),
        "terminal_ids": _terminal_ids(data),
        "card_brand_product": _brand_product(data),
    }
    for field in ("ecr_provider", "ecr_name", "ecr_version"):
        _optional_str(data, field, max_length=200)
    check_sandbox(
        credential,
        terminal_ids=clean["terminal_ids"],
        amount=("refund_amount", data.get("refund_amount")),
    )
    return clean


def reversal_request(data, credential: SimCredential) -> dict:
    if not isinstance(data, dict):
        raise bad_request("reversal_request_data: requerido")
    check_subnet(data.get("subnet_acquirer_id"), credential)
    payment_id = data.get("payment_id")
    if not isinstance(payment_id, str) or not payment_id:
        raise invalid("payment_id")
    clean = {
        "payment_id": payment_id,
        "menu_text": _menu_text(data),
        "ecr_transaction_id": _optional_str(data, "ecr_transaction_id"),
        "print_copies": _print_copies(data),
        "terminal_ids": _terminal_ids(data),
    }
    check_sandbox(credential, terminal_ids=clean["terminal_ids"])
    return clean


def settlement_query(request, credential: SimCredential) -> dict:
    check_cuit(request, credential)
    check_subnet(request.GET.get("subnet_acquirer_id"), credential)
    terminal_id = request.GET.get("terminal_id", "")
    if not re.fullmatch(r"\d{8}", terminal_id):
        raise invalid("terminal_id")
    check_sandbox(credential, terminal_ids=[terminal_id])
    return {"terminal_id": terminal_id, "print_receipt": query_bool(request, "print_receipt")}


def _datetime(body: dict, field: str) -> datetime:
    value = body.get(field)
    if not isinstance(value, str):
        raise bad_request(f"{field}: requerido")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(field) from None
    if moment.tzinfo is None:
        # A date without offset is the merchant's local time, like every date the API writes.
        moment = moment.replace(tzinfo=ARGENTINA)
    return moment


def search_request(body: dict) -> dict:
    date_from = _datetime(body, "date_from")
    date_to = _datetime(body, "date_to")
    if date_to < date_from:
        raise bad_request("date_to: anterior a date_from")
    if date_to - date_from > SEARCH_WINDOW_MAX:
        raise bad_request("date_from/date_to: la ventana máxima es de 31 días")
    terminal_id = body.get("terminal_id")
    if terminal_id is not None and (
        not isinstance(terminal_id, str) or not re.fullmatch(r"\d{8}", terminal_id)
    ):
        raise invalid("terminal_id")
    return {
        "date_from": date_from,
        "date_to": date_to,
        "ecr_transaction_id": _optional_str(body, "ecr_transaction_id"),
        "terminal_id": terminal_id,
    }
