"""The receipt (comprobante) of an approved payment, reversal or refund, as the dashboard prints
it and sends it by e-mail.

It is built from the ledger, not from the provider's receipt texts: those may carry more of the
card than the portal shows anyone. A receipt names the card by brand and last four only.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from transactions.brands import brand_label
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent
from transactions.money import format_ars
from transactions.states import Kind, State

_TITLES = {
    Kind.PAYMENT: "Comprobante de pago",
    Kind.REVERSAL: "Comprobante de anulación",
    Kind.REFUND: "Comprobante de devolución",
}


@dataclass(frozen=True)
class Receipt:
    """What a receipt shows, each value ready to print (es-AR, the store's time zone)."""

    intent: Intent
    title: str
    merchant: str
    cuit: str
    store: str
    address: str
    terminal: str
    moment: dt.datetime
    brand: str
    last_four: str
    installments: int
    authorization_code: str
    ticket_number: str
    batch_number: int | None
    amount: Decimal | None
    original_ticket: str

    @property
    def date(self) -> str:
        return self.moment.strftime("%d/%m/%Y")

    @property
    def time(self) -> str:
        return self.moment.strftime("%H:%M:%S")

    @property
    def amount_text(self) -> str:
        return format_ars(self.amount)

    @property
    def card(self) -> str:
        if not self.last_four:
            return self.brand or "—"
        return f"{self.brand} •••• {self.last_four}".strip()

    @property
    def installments_text(self) -> str:
        return "1 cuota" if self.installments <= 1 else f"{self.installments} cuotas"

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) in the order of a terminal's ticket."""
        rows = [
            ("Comercio", self.merchant),
            ("CUIT", self.cuit),
            ("Sucursal", self.store),
        ]
        if self.address:
            rows.append(("Dirección", self.address))
        rows += [
            ("Terminal", self.terminal),
            ("Fecha", self.date),
            ("Hora", self.time),
            ("Tarjeta", self.card),
            ("Cuotas", self.installments_text),
            ("Autorización", self.authorization_code or "—"),
            ("Cupón", self.ticket_number or "—"),
            ("Lote", str(self.batch_number) if self.batch_number else "—"),
        ]
        if self.original_ticket:
            rows.append(("Cupón del pago original", self.original_ticket))
        rows.append(("Importe", self.amount_text))
        return rows

    def text(self) -> str:
        """The receipt as plain text (the e-mail's body)."""
        width = max(len(label) for label, _ in self.lines())
        body = [self.title.upper(), ""]
        body += [f"{label + ':':<{width + 1}} {value}" for label, value in self.lines()]
        body += ["", f"Operación {self.intent.public_id}"]
        return "\n".join(body) + "\n"


def receipt_available(intent: Intent) -> bool:
    return intent.kind in _TITLES and intent.state == State.APPROVED


def receipt_for(intent: Intent) -> Receipt:
    """The receipt of an approved payment, reversal or refund; refuses anything else. Reads the
    intent's store, merchant, terminal and (for a reversal or refund) its payment, which the
    caller should have joined in (`select_related`)."""
    if not receipt_available(intent):
        raise IntentRuleError(
            Code.RECEIPT_NOT_AVAILABLE,
            "Solo un cobro, una anulación o una devolución aprobados tienen comprobante.",
        )
    original = intent.original
    # A reversal may come back without the card: it is the card of the payment it annuls.
    card_source = intent if intent.card_last_four or original is None else original
    amount = intent.authorized_amount or intent.amount
    if amount is None and original is not None:
        amount = original.authorized_amount or original.amount
    store = intent.store
    terminal = intent.terminal
    moment = intent.finished_at or intent.taken_at or intent.created_at
    return Receipt(
        intent=intent,
        title=_TITLES[Kind(intent.kind)],
        merchant=store.merchant.legal_name,
        cuit=store.merchant.cuit,
        store=store.name,
        address=store.address,
        terminal=(
            f"{terminal.label} ({terminal.terminal_id})".strip() if terminal is not None else "—"
        ),
        moment=moment.astimezone(store.tzinfo),
        brand=brand_label(card_source.card_brand, card_source.card_brand_code),
        last_four=card_source.card_last_four,
        installments=(original or intent).installments if intent.kind != Kind.REFUND else 1,
        authorization_code=intent.authorization_code,
        ticket_number=intent.ticket_number,
        batch_number=intent.batch_number,
        amount=amount,
        original_ticket=original.ticket_number if original is not None else "",
    )
