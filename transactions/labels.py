"""Spanish names for the raw values the provider and the engine store, for people to read.

The ledger keeps what Prisma said verbatim (`CONFIRMED`, `CREDIT`, `CHIP_CONTACTLESS`): that is
evidence and what support asks for. Pages show these names instead; the raw value stays in the
exports, the admin and a `title` where a person may need it. One module so every page (and every
engineer's template) says the same word: use the `labels` template filters
(`transactions/templatetags/labels.py`).

A value nobody listed here is shown as it came (never hidden, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Said to a person when Prisma could not be reached and nothing was charged (the charge form,
# the API's `provider_unavailable`): what happened and what to do, once, with no exception name.
PROVIDER_UNREACHABLE_MESSAGE = (
    "No se pudo contactar a Prisma: no se cobró nada. Probá de nuevo en unos segundos; si sigue "
    "fallando, revisá la conexión a internet o avisale al dueño del comercio (puede ser la "
    "credencial de la sucursal)."
)

# Contract §4 "Status values": every status of every kind. Shared names (CONFIRMED, DECLINED,
# UNDONE, ERROR) read well for payments, refunds and closes alike.
PROVIDER_STATUS_LABELS: dict[str, str] = {
    "PAYMENT_REQUEST": "Esperando en la terminal",
    "PROCESSING_PAYMENT": "En la terminal",
    "WAITING_CONFIRMATION": "Esperando confirmación",
    "CONFIRM_REQUEST": "Confirmación pedida",
    "PROCESSING_CONFIRMATION": "Confirmando",
    "UNDO_REQUEST": "Cancelación pedida",
    "PROCESSING_UNDO": "Cancelando",
    "CONFIRMED": "Confirmada",
    "DECLINED": "Rechazada",
    "UNDONE": "Cancelada",
    "ERROR": "Error",
    "REVERSAL_REQUEST": "Anulación esperando en la terminal",
    "PROCESSING_REVERSAL": "Anulación en la terminal",
    "UNDO_REVERSAL_REQUEST": "Cancelación de la anulación pedida",
    "PROCESSING_UNDO_REVERSAL": "Cancelando la anulación",
    "REVERSED": "Anulada",
    "REVERSAL_DECLINED": "Anulación rechazada",
    "REVERSAL_ERROR": "Error en la anulación",
    "REVERSAL_UNDONE": "Anulación cancelada",
    "UNDO_REVERSAL_DECLINED": "Anulada (la cancelación fue rechazada)",
    "REFUND_REQUEST": "Devolución esperando en la terminal",
    "PROCESSING_REFUND": "Devolución en la terminal",
    "SETTLEMENT_REQUEST": "Cierre esperando en la terminal",
    "PROCESSING_SETTLEMENT": "Cierre en la terminal",
}

PAYMENT_TYPE_LABELS: dict[str, str] = {
    "CREDIT": "Crédito",
    "DEBIT": "Débito",
    "PREPAID": "Prepaga",
}

# How the card was read (the answer's `card_type`).
ENTRY_MODE_LABELS: dict[str, str] = {
    "CHIP": "Chip",
    "CHIP_CONTACTLESS": "Sin contacto",
    "CONTACTLESS": "Sin contacto",
    "MAGNETIC_STRIPE": "Banda magnética",
    "MAGNETIC": "Banda magnética",
    "SWIPE": "Banda magnética",
    "FALLBACK": "Banda magnética (chip fallido)",
    "MANUAL": "Ingreso manual",
    "QR_CODE": "QR",
    "QR": "QR",
}

# The `actor_label` of events written by the system (transactions/events.py).
ACTOR_LABELS: dict[str, str] = {
    "sistema": "sistema",
    "sweeper": "sistema (seguimiento)",
    "resolver": "sistema (búsqueda en Prisma)",
}

# Gateway operations (transactions/gateway/operations.py), as the timeline names them.
OPERATION_LABELS: dict[str, str] = {
    "token": "Pedido de token",
    "payment_create": "Envío del cobro",
    "payment_get": "Consulta del cobro",
    "payment_cancel": "Pedido de cancelación",
    "payment_search": "Búsqueda en Prisma",
    "reversal_create": "Envío de la anulación",
    "reversal_get": "Consulta de la anulación",
    "reversal_cancel": "Cancelación de la anulación",
    "refund_create": "Envío de la devolución",
    "refund_get": "Consulta de la devolución",
    "refund_cancel": "Cancelación de la devolución",
    "settlement_create": "Envío del cierre de lote",
    "settlement_get": "Consulta del cierre de lote",
    "terminals_list": "Consulta de terminales",
}

# Stores choose among the America/Argentina/* zones; people know them by province and city.
TIME_ZONE_LABELS: dict[str, str] = {
    "America/Argentina/Buenos_Aires": "Buenos Aires (hora de Argentina)",
    "America/Argentina/Catamarca": "Catamarca",
    "America/Argentina/ComodRivadavia": "Comodoro Rivadavia",
    "America/Argentina/Cordoba": "Córdoba",
    "America/Argentina/Jujuy": "Jujuy",
    "America/Argentina/La_Rioja": "La Rioja",
    "America/Argentina/Mendoza": "Mendoza",
    "America/Argentina/Rio_Gallegos": "Río Gallegos (Santa Cruz)",
    "America/Argentina/Salta": "Salta",
    "America/Argentina/San_Juan": "San Juan",
    "America/Argentina/San_Luis": "San Luis",
    "America/Argentina/Tucuman": "Tucumán",
    "America/Argentina/Ushuaia": "Ushuaia (Tierra del Fuego)",
}


def _lookup(table: dict[str, str], value) -> str:
    raw = str(value or "").strip()
    return table.get(raw.upper(), table.get(raw, raw))


def provider_status_label(value) -> str:
    """`CONFIRMED` -> `Confirmada`; an unknown status as it came."""
    return _lookup(PROVIDER_STATUS_LABELS, value)


def payment_type_label(value) -> str:
    """`CREDIT` -> `Crédito`."""
    return _lookup(PAYMENT_TYPE_LABELS, value)


def entry_mode_label(value) -> str:
    """`CHIP_CONTACTLESS` -> `Sin contacto`."""
    return _lookup(ENTRY_MODE_LABELS, value)


def actor_label(value) -> str:
    """`sweeper` -> `sistema (seguimiento)`; an empty label is the system."""
    raw = str(value or "").strip()
    return ACTOR_LABELS.get(raw.lower(), raw) if raw else "sistema"


def operation_label(value) -> str:
    """`payment_get` -> `Consulta del cobro`."""
    raw = str(value or "").strip()
    return OPERATION_LABELS.get(raw, raw)


def time_zone_label(value) -> str:
    """`America/Argentina/Cordoba` -> `Córdoba`; any other zone by its last part, readable."""
    raw = str(value or "").strip()
    if raw in TIME_ZONE_LABELS:
        return TIME_ZONE_LABELS[raw]
    return raw.rsplit("/", 1)[-1].replace("_", " ")


def time_zone_choices(values) -> list[tuple[str, str]]:
    """Form choices with the readable name, Buenos Aires first (most stores are there)."""
    pairs = [v if isinstance(v, tuple) else (v, v) for v in values]
    blank = [(v, label) for v, label in pairs if not v]
    names = [v for v, _label in pairs if v]
    ordered = sorted(
        names, key=lambda v: (v != "America/Argentina/Buenos_Aires", time_zone_label(v))
    )
    return blank + [(v, time_zone_label(v)) for v in ordered]


# --- Timeline -----------------------------------------------------------------------------------


@dataclass
class IdleReads:
    """Several consecutive successful reads that changed nothing, shown as one line."""

    count: int
    first_at: datetime
    last_at: datetime
    calls: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.count} consulta{'s' if self.count != 1 else ''} sin cambios"


def _is_idle_read(call) -> bool:
    # A GET that answered 200 and changed nothing: what the poller does every few seconds.
    return (
        getattr(call, "method", "") == "GET"
        and getattr(call, "outcome", "") == "ok"
        and getattr(call, "http_status", None) == 200
    )


def fold_idle_reads(timeline, *, at_least: int = 2):
    """The intent timeline with runs of idle reads folded into one `("idle", at, IdleReads)` row.

    `timeline` is a list of `(kind, at, item)`, kind "event" or "call" (intent page). A run of
    reads that answered 200 and changed nothing, with no event between them, becomes one line
    ("6 consultas sin cambios") when it stands for `at_least` reads or more. An event breaks the
    run, and the read just before an event (the one that saw the change) stays a line of its own.
    Reads the gateway counted instead of storing (`GatewayCall.idle_reads`: on a sampled read it
    includes the read itself, on any other row it is the reads just before it) count too.
    """
    folded: list[tuple] = []
    run: list[tuple] = []

    def flush(extra: int = 0, at=None) -> None:
        count = sum(_reads(item) for _kind, _at, item in run) + extra
        if not run and at is not None and count >= at_least:
            # Only counted, never stored: one line just before the row that counted them.
            folded.append(("idle", at, IdleReads(count=count, first_at=at, last_at=at)))
            return
        if run and (len(run) >= at_least or count >= at_least):
            calls = [item for _kind, _at, item in run]
            folded.append(
                (
                    "idle",
                    run[0][1],
                    IdleReads(count=count, first_at=run[0][1], last_at=run[-1][1], calls=calls),
                )
            )
        else:
            folded.extend(run)
        run.clear()

    for row in timeline:
        kind, _at, item = row
        if kind == "call" and _is_idle_read(item):
            run.append(row)
            continue
        # The read just before an event is the one that saw the change: it stays in view, and
        # the reads it counted before itself join the run.
        last = run.pop() if run and kind == "event" else None
        held = last if last is not None else (row if kind == "call" else None)
        if held is None:
            flush()
        else:
            flush(int(getattr(held[2], "idle_reads", 0) or 0), at=held[1])
        if last is not None:
            folded.append(last)
        folded.append(row)
    flush()
    return folded


def _reads(call) -> int:
    return max(1, int(getattr(call, "idle_reads", 0) or 0))
