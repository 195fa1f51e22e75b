"""Homologation assistant (read-only selectors): which of Prisma's homologation cases a merchant
has already run, derived from the ledger, and how its production pilot looks.

Before production, Prisma asks the integrator to run a list of cases on test terminals in
homologation (`subnet_acquirer_id` 9) and hand over the `payment_id` of each (contract §7). The
portal records every intent and every provider call, so nothing is typed in: a case is done when
an intent matching its predicate exists.

What counts as evidence:

- only intents of the merchant's stores made with a HOMOLOGATION credential (the credential's
  environment is what fixes `subnet_acquirer_id` 9), and only intents the provider knows (a
  `provider_id`, which is what Prisma asks for);
- every predicate is a `Q` over `Intent`, evaluated by the database with `LIMIT 3`. There is
  deliberately no Python-side check: filtering after the slice could hide older evidence;
- token renewal is not an intent: it is a `GatewayCall` of a homologation credential of the
  merchant answered 401 (recorded `retryable`: the client renews the token and replays) and
  followed, within a minute, by a successful call of the same operation on the same credential —
  the replay worked. A lone 401, or a 401 whose replay was refused again, does not count.

Cost: one query per case (15 in all, whatever the size of the ledger).
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from stores.models import Credential, Environment, Merchant, Store
from transactions.models import GatewayCall, Intent, Method
from transactions.states import Kind, State

EVIDENCE_LIMIT = 3
# How soon after a 401 the replay of the same operation must have succeeded.
TOKEN_REPLAY_WINDOW = dt.timedelta(seconds=60)
# Contract §7: the production pilot runs in one store with up to two terminals.
PILOT_MAX_STORES = 1
PILOT_MAX_TERMINALS = 2

TOKEN_RENEWAL_CODE = "renovacion-token"


@dataclass(frozen=True)
class Case:
    """One homologation case: a stable code (it goes to Prisma in the CSV), a Spanish title, what
    to do on the terminal to run it, and the predicate over `Intent` that proves it (None for the
    token case, which is proved by gateway calls)."""

    code: str
    title: str
    how: str
    predicate: Q | None


def _approved(kind: str) -> Q:
    return Q(kind=kind, state=State.APPROVED)


_AMEX = (
    Q(original__acquirer__iexact="AMEX")
    | Q(original__card_brand_code__iexact="AM")
    | Q(acquirer__iexact="AMEX")
    | Q(card_brand_code__iexact="AM")
    | Q(brand_restriction__iexact="AM")
)

CASES: list[Case] = [
    Case(
        "pago-1-cuota",
        "Cobro aprobado en 1 cuota",
        "Cobrá con tarjeta en 1 cuota en una terminal de homologación y aprobá la operación.",
        _approved(Kind.PAYMENT) & Q(method=Method.CARD, installments=1),
    ),
    Case(
        "pago-cuotas",
        "Cobro aprobado en cuotas",
        "Cobrá con tarjeta de crédito con cuotas > 1 en una terminal de homologación.",
        _approved(Kind.PAYMENT) & Q(method=Method.CARD, installments__gt=1),
    ),
    Case(
        "pago-rechazado",
        "Cobro rechazado",
        "Cobrá con una tarjeta de prueba que Prisma rechace (p. ej. sin fondos) y dejá que "
        "termine rechazado.",
        Q(kind=Kind.PAYMENT, state=State.DECLINED),
    ),
    Case(
        "pago-marca",
        "Cobro aprobado con marca exigida",
        "Cobrá eligiendo una marca (p. ej. Visa) en «Marca exigida» y pagá con esa tarjeta.",
        _approved(Kind.PAYMENT) & ~Q(brand_restriction=""),
    ),
    Case(
        "pago-qr",
        "Cobro con QR aprobado",
        "Cobrá con medio «QR» y pagá escaneando el código con una billetera de prueba.",
        _approved(Kind.PAYMENT) & Q(method=Method.QR),
    ),
    Case(
        "cancelacion-pago",
        "Cancelación de una intención de cobro pendiente",
        "Creá un cobro y, sin tomarlo en la terminal, cancelalo desde el portal.",
        Q(kind=Kind.PAYMENT, state=State.CANCELLED),
    ),
    Case(
        "anulacion",
        "Anulación aprobada",
        "Anulá un cobro aprobado del día (no AMEX) y confirmá la anulación en la terminal.",
        _approved(Kind.REVERSAL),
    ),
    Case(
        "cancelacion-anulacion",
        "Cancelación de una anulación pendiente",
        "Pedí la anulación de un cobro y, sin tomarla en la terminal, cancelala desde el portal.",
        Q(kind=Kind.REVERSAL, state=State.CANCELLED),
    ),
    Case(
        "devolucion-parcial",
        "Devolución parcial aprobada",
        "Devolvé un importe menor al del cobro original y presentá la tarjeta en la terminal.",
        _approved(Kind.REFUND) & (Q(original__isnull=True) | Q(amount__lt=F("original__amount"))),
    ),
    Case(
        "devolucion-total",
        "Devolución total aprobada",
        "Devolvé el importe completo de un cobro aprobado y presentá la tarjeta en la terminal.",
        _approved(Kind.REFUND) & Q(original__isnull=False, amount=F("original__amount")),
    ),
    Case(
        "devolucion-amex",
        "Devolución AMEX aprobada",
        "Cobrá con una American Express de prueba y devolvelo (AMEX no admite anulación).",
        _approved(Kind.REFUND) & _AMEX,
    ),
    Case(
        "cierre-con-ticket",
        "Cierre de lote con ticket impreso",
        "Cerrá el lote de una terminal de homologación con «Imprimir ticket de cierre» marcado.",
        _approved(Kind.SETTLEMENT) & Q(print_receipt=True),
    ),
    Case(
        "cierre-sin-ticket",
        "Cierre de lote sin ticket",
        "Cerrá el lote de una terminal de homologación sin imprimir el ticket de cierre.",
        _approved(Kind.SETTLEMENT) & Q(print_receipt=False),
    ),
    Case(
        TOKEN_RENEWAL_CODE,
        "Renovación del token vencido",
        "Esperá a que venza el token (alrededor de una hora sin operar, o revocalo en el portal "
        "de Prisma) y hacé cualquier operación: el portal renueva el token y repite la llamada.",
        None,
    ),
]


@dataclass(frozen=True)
class Evidence:
    """One proof of a case: when it happened, and the intent (the token case may have none,
    e.g. a renewal during a liveness check)."""

    at: dt.datetime
    intent: Intent | None

    @property
    def payment_id(self) -> str:
        return self.intent.provider_id if self.intent is not None else ""


@dataclass(frozen=True)
class CaseStatus:
    case: Case
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.evidence)

    @property
    def done_at(self) -> dt.datetime | None:
        return self.evidence[0].at if self.evidence else None

    @property
    def intents(self) -> list[Intent]:
        """Evidence intents, newest first (at most `EVIDENCE_LIMIT`)."""
        return [e.intent for e in self.evidence if e.intent is not None]

    @property
    def payment_ids(self) -> list[str]:
        return [e.payment_id for e in self.evidence if e.payment_id]


def homologation_credentials(merchant: Merchant) -> QuerySet[Credential]:
    """The homologation credentials whose evidence is the merchant's: those it is served by
    (a preintegrada shared by an integrator brings the evidence of its other clients)."""
    return Credential.objects.filter(merchants=merchant, environment=Environment.HOMOLOGATION)


def _homologation_intents(merchant: Merchant) -> QuerySet[Intent]:
    # Homologation belongs to the credential: every intent made with a homologation credential
    # that serves the merchant counts, whoever's store it ran in. Also the merchant's own
    # intents in homologation: unlinking a credential later must not erase evidence already
    # handed to Prisma.
    return Intent.objects.filter(
        Q(credential__in=homologation_credentials(merchant).values("pk"))
        | Q(store__merchant=merchant),
        credential__environment=Environment.HOMOLOGATION,
    ).exclude(provider_id="")


def approved_credential(merchant: Merchant) -> Credential | None:
    """A homologation credential of the merchant that Prisma approved, if any: the merchant is
    homologated (for an approved preintegrada, from its first day)."""
    return (
        homologation_credentials(merchant)
        .filter(homologation_approved_at__isnull=False)
        .order_by("homologation_approved_at")
        .first()
    )


def _token_renewals(merchant: Merchant) -> list[Evidence]:
    replay_ok = GatewayCall.objects.filter(
        credential=OuterRef("credential"),
        operation=OuterRef("operation"),
        outcome=GatewayCall.Outcome.OK,
        pk__gt=OuterRef("pk"),
        created_at__gte=OuterRef("created_at"),
        created_at__lte=OuterRef("created_at") + TOKEN_REPLAY_WINDOW,
    )
    calls = (
        GatewayCall.objects.filter(
            credential__in=homologation_credentials(merchant).values("pk"),
            http_status=401,
            outcome=GatewayCall.Outcome.RETRYABLE,
        )
        .filter(Exists(replay_ok))
        .select_related("intent")
        .order_by("-created_at", "-pk")[:EVIDENCE_LIMIT]
    )
    return [Evidence(at=call.created_at, intent=call.intent) for call in calls]


def homologation_status(*, merchant: Merchant) -> list[CaseStatus]:
    """Every case of `CASES`, in order, with up to three pieces of evidence (newest first).

    One query per case: each is a small indexed `LIMIT 3`, cheaper and clearer than loading
    every matching intent to sort them into cases in Python.
    """
    intents = _homologation_intents(merchant)
    statuses = []
    for case in CASES:
        if case.predicate is None:
            evidence = _token_renewals(merchant)
        else:
            rows = intents.filter(case.predicate).order_by("-created_at", "-pk")[:EVIDENCE_LIMIT]
            evidence = [Evidence(at=i.finished_at or i.created_at, intent=i) for i in rows]
        statuses.append(CaseStatus(case=case, evidence=evidence))
    return statuses


@dataclass(frozen=True)
class PilotStore:
    store: Store
    enabled_terminals: int


@dataclass(frozen=True)
class PilotStatus:
    stores: list[PilotStore]
    homologation_done: bool
    warnings: list[str]

    @property
    def terminal_count(self) -> int:
        return sum(s.enabled_terminals for s in self.stores)


def production_pilot_status(
    *, merchant: Merchant, cases: list[CaseStatus] | None = None
) -> PilotStatus:
    """The merchant's stores in production and their enabled terminals, with a warning when the
    pilot is larger than one store and two terminals before every case is done.

    Pass `cases` (from `homologation_status`) to avoid computing them twice.
    """
    if cases is None:
        cases = homologation_status(merchant=merchant)
    done = all(status.done for status in cases)
    stores = [
        PilotStore(store=store, enabled_terminals=store.enabled_terminals)
        for store in Store.objects.filter(merchant=merchant, environment=Environment.PRODUCTION)
        .annotate(enabled_terminals=Count("terminals", filter=Q(terminals__enabled=True)))
        .order_by("name")
    ]
    warnings = []
    if not done:
        terminals = sum(s.enabled_terminals for s in stores)
        if len(stores) > PILOT_MAX_STORES:
            warnings.append(
                f"Hay {len(stores)} sucursales en producción y la homologación no está completa: "
                f"el piloto es en una sola sucursal."
            )
        if terminals > PILOT_MAX_TERMINALS:
            warnings.append(
                f"Hay {terminals} terminales habilitadas en producción y la homologación no está "
                f"completa: el piloto admite hasta {PILOT_MAX_TERMINALS} terminales."
            )
    return PilotStatus(stores=stores, homologation_done=done, warnings=warnings)
