"""Receipt texts, the closing ticket, and es-AR formats of money and dates."""

from datetime import datetime
from zoneinfo import ZoneInfo

ARGENTINA = ZoneInfo("America/Argentina/Buenos_Aires")


def format_money(cents: int) -> str:
    """es-AR amount without the currency sign: 152050 -> '1.520,50', -152050 -> '-1.520,50'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{frac:02d}"


def format_date(moment: datetime | None, *, millis: bool = True) -> str | None:
    """ISO-8601 in Argentina's offset, as the provider writes it: 2026-11-27T15:04:05.123-03:00."""
    if moment is None:
        return None
    local = moment.astimezone(ARGENTINA)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{local.microsecond // 1000:03d}"
    offset = local.strftime("%z")
    return f"{text}{offset[:3]}:{offset[3:]}"


def format_cuit(digits: str) -> str:
    return f"{digits[:2]}-{digits[2:10]}-{digits[10:]}"


def sale_receipt(intention, *, copy: str) -> str:
    """Receipt of an approved payment, refund or reversal; `copy` is the footer line."""
    title = {"payment": None, "refund": "DEVOLUCION", "reversal": "ANULACION"}[intention.kind]
    sign = -1 if intention.kind != "payment" else 1
    lines = [intention.merchant_name]
    if copy == "COMERCIO":
        lines.append(
            f"CUIT {format_cuit(intention.cuit)} TERMINAL {intention.terminal.terminal_id}"
        )
    if title:
        lines.append(title)
    lines.append(f"{intention.card_brand} ****{intention.last_four_digits}")
    if intention.qr_code_id:
        lines.append(f"QR {intention.qr_code_id}")
    if intention.kind == "payment":
        lines.append(f"CUOTAS {intention.installments}")
    lines.append(f"TOTAL $ {format_money(sign * (intention.amount_cents or 0))}")
    lines.append(
        f"AUT {intention.authorization_code} CUPON {intention.transaction_receipt} "
        f"LOTE {intention.batch_number}"
    )
    lines.append(f"COPIA {copy}")
    return "\n".join(lines)


def _ticket_line(label: str, count: int, cents: int) -> str:
    return f"{label:<11} CANT {count:>2}  $ {format_money(cents):>10}"


def closing_ticket(*, batch_number: int, items) -> str:
    """Closing ticket of a batch, in the shape of the contract's example.

    Sales are listed per card brand (a reversed sale still counts there); ANULACIONES and
    DEVOLUCIONES subtract; TOTAL counts every line.
    """
    brands: dict[str, list[int]] = {}
    reversals = [0, 0]
    refunds = [0, 0]
    for item in items:
        amount = item.amount_cents or 0
        if item.kind == "payment":
            entry = brands.setdefault(item.card_brand or "OTRAS", [0, 0])
        elif item.kind == "reversal":
            entry = reversals
        else:
            entry = refunds
        entry[0] += 1
        entry[1] += amount
    lines = [f"CIERRE DE LOTE {batch_number}"]
    for brand in sorted(brands):
        lines.append(_ticket_line(brand, *brands[brand]))
    lines.append(_ticket_line("ANULACIONES", reversals[0], -reversals[1]))
    lines.append(_ticket_line("DEVOLUCIONES", refunds[0], -refunds[1]))
    total_count = sum(c for c, _ in brands.values()) + reversals[0] + refunds[0]
    total = sum(a for _, a in brands.values()) - reversals[1] - refunds[1]
    lines.append(_ticket_line("TOTAL", total_count, total))
    return "\n".join(lines)


def garbled(ticket: str) -> str:
    """The ticket as a printer driver that lost its format prints it: amounts without their
    decimal comma and counts unreadable, so no total line can be read."""
    return "\n".join(
        line.replace(",", "").replace("CANT", "CANT ?") if "CANT" in line else line
        for line in ticket.splitlines()
    )
