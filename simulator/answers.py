"""Answer bodies in the contract's envelopes (§4), every field present and null when unknown."""

import re

from simulator.models import CONFIRMED, SimIntention
from simulator.receipts import format_cuit, format_date


def _cents(value: int | None) -> str | None:
    return None if value is None else str(value)


def _client_transaction_id(ecr_transaction_id: str | None) -> int | None:
    """The provider echoes the trailing number of the integrator's reference ('POS7-0004411')."""
    match = re.search(r"(\d+)$", ecr_transaction_id or "")
    return int(match.group(1)) if match else None


def _terminal_fields(intention: SimIntention) -> dict:
    terminal = intention.terminal
    return {
        "terminal_id": terminal.terminal_id if terminal else None,
        "terminal_serial": terminal.serial if terminal else None,
        "terminal_model": terminal.model if terminal else None,
        "mobitef_app_vers": terminal.mobitef_app_vers if terminal else None,
    }


def _merchant_fields(intention: SimIntention) -> dict:
    return {
        "merchant_id": intention.merchant_id,
        "merchant_name": intention.merchant_name,
        "cuit_cuil": format_cuit(intention.cuit),
    }


def payment_data(intention: SimIntention) -> dict:
    request = intention.request_data or {}
    approved = intention.status == CONFIRMED
    return {
        "payment_id": str(intention.pk),
        "payment_status": intention.status,
        "payment_request_date": format_date(intention.created_at),
        "payment_status_date": format_date(intention.status_changed_at),
        "payment_type": intention.payment_type,
        **_merchant_fields(intention),
        **_terminal_fields(intention),
        "authorized_payment_amount": _cents(intention.amount_cents) if approved else None,
        "change_amount": str(intention.change_amount_cents),
        "installments_number": intention.installments,
        "bank_account_type": request.get("bank_account_type"),
        "payment_plan_id": request.get("payment_plan_id"),
        "acquirer_id": intention.acquirer_id,
        "card_brand_product": intention.card_brand_product,
        "card_brand": intention.card_brand,
        "card_type": intention.card_type,
        "bin": intention.bin,
        "last_four_digits": intention.last_four_digits,
        "card_holder": intention.card_holder,
        "card_holder_id": request.get("card_holder_id"),
        "client_transaction_id": _client_transaction_id(intention.ecr_transaction_id),
        "transaction_receipt": intention.transaction_receipt,
        "batch_number": intention.batch_number,
        "qr_code_id": intention.qr_code_id,
        "qr_original_amount": _cents(intention.amount_cents) if intention.qr_code_id else None,
        "acquirer_response_code": intention.acquirer_response_code,
        "acquirer_additional_message": intention.acquirer_additional_message,
        # The provider writes this one without milliseconds (see the contract's examples).
        "acquirer_response_date": format_date(intention.acquirer_response_date, millis=False),
        "authorization_code": intention.authorization_code,
        "payment_auth_nsu": intention.payment_auth_nsu,
        "client_receipt_detail": intention.client_receipt_detail,
        "merchant_receipt_detail": intention.merchant_receipt_detail,
        "trx_receipt_notes": request.get("trx_receipt_notes"),
        "order_notes": None,
    }


def payment_answer(intention: SimIntention) -> dict:
    return {
        "payment_request_data": intention.request_data,
        "payment_data": payment_data(intention),
    }


def reversal_answer(intention: SimIntention, *, with_payment: bool) -> dict:
    data = {
        "payment_id": str(intention.pk),
        "reversal_status": intention.status,
        "reversal_request_date": format_date(intention.created_at),
        "reversal_status_date": format_date(intention.status_changed_at),
    }
    if with_payment:
        data["payment_data"] = payment_data(intention.original)
    return {"reversal_request_data": intention.request_data, "reversal_data": data}


def refund_data(intention: SimIntention, *, full: bool) -> dict:
    data = {
        "refund_id": str(intention.pk),
        "refund_status": intention.status,
        "refund_request_date": format_date(intention.created_at),
        "refund_status_date": format_date(intention.status_changed_at),
    }
    if not full:
        return data
    approved = intention.status == CONFIRMED
    data.update(
        {
            **_merchant_fields(intention),
            **_terminal_fields(intention),
            "refund_amount": _cents(intention.amount_cents),
            "authorized_refund_amount": _cents(intention.amount_cents) if approved else None,
            "acquirer_id": intention.acquirer_id,
            "card_brand_product": intention.card_brand_product,
            "card_brand": intention.card_brand,
            "card_type": intention.card_type,
            "bin": intention.bin,
            "last_four_digits": intention.last_four_digits,
            "refunds_transaction_receipt": intention.transaction_receipt,
            "batch_number": intention.batch_number,
            "authorization_code": intention.authorization_code,
            "acquirer_response_code": intention.acquirer_response_code,
            "acquirer_additional_message": intention.acquirer_additional_message,
            "client_receipt_detail": intention.client_receipt_detail,
            "merchant_receipt_detail": intention.merchant_receipt_detail,
            "error": intention.error,
        }
    )
    return data


def refund_create_answer(intention: SimIntention) -> dict:
    # On create the echo is called `refund_request`; on read `refund_request_data` (contract §4).
    return {
        "refund_request": intention.request_data,
        "refund_data": refund_data(intention, full=False),
    }


def refund_answer(intention: SimIntention) -> dict:
    return {
        "refund_request_data": intention.request_data,
        "refund_data": refund_data(intention, full=True),
    }


def settlement_create_answer(intention: SimIntention) -> dict:
    return {
        "settlements_data": {
            "settlement_id": str(intention.pk),
            "terminal_id": intention.terminal.terminal_id,
            "print_receipt": intention.print_receipt,
            "settlement_status": intention.status,
            "settlement_request_date": format_date(intention.created_at),
        }
    }


def settlement_answer(intention: SimIntention) -> dict:
    return {
        "settlements_data": {
            "settlement_id": str(intention.pk),
            "terminal_id": intention.terminal.terminal_id,
            "print_receipt": intention.print_receipt,
            **_merchant_fields(intention),
            "subnet_acquirer_id": intention.subnet_acquirer_id,
            "settlement_status": intention.status,
            "settlement_status_date": format_date(intention.status_changed_at),
            "settlement_request_date": format_date(intention.created_at),
            "terminal_serial": intention.terminal.serial,
            "terminal_model": intention.terminal.model,
            "mobitef_app_vers": intention.terminal.mobitef_app_vers,
            "acquirer_response_code": intention.acquirer_response_code,
            "acquirer_additional_message": intention.acquirer_additional_message,
            "batch_number": intention.batch_number,
            "merchant_receipt_detail": intention.merchant_receipt_detail,
        }
    }
