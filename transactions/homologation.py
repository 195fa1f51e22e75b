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

Cost: a constant number of queries (cases, recorded evidence, one query over the matching
operations with each case's rule as an annotation, token renewals), whatever the ledger or the
number of cases.

Cases are data (`HomologationCase`, the shipped default or Prisma's list); a case is done when an
operation is recorded for it (`HomologationEvidence`, one operation per case); the rules only
suggest which operations fit.
"""

import datetime as dt
import operator
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models import Case as SqlCase

from stores import golive
from stores.models import Credential, Environment, Merchant, Store, Terminal, TerminalPurpose
from transactions.models import (
    GatewayCall,
    HomologationCase,
    HomologationEvidence,
    Intent,
    Method,
)
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


# Each case's rule, by name (`HomologationCase.matcher`): the shipped cases' predicates. A case
# loaded from Prisma's own list with a rule the portal does not know is "manual".
MANUAL = "manual"
MATCHERS: dict[str, Q | None] = {case.code: case.predicate for case in CASES}
# How many matching operations the page considers, newest first, to suggest evidence (one query
# for every case). Recorded evidence is never limited; this only bounds the suggestions, and a
# homologation runs dozens of operations, not hundreds.
CANDIDATE_LIMIT = 300


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
    """A case with the operations that match its rule (`evidence`, suggestions, newest first,
    at most `EVIDENCE_LIMIT`) and the one recorded for it (`recorded`), which is what makes it
    done and what goes to Prisma."""

    case: Any
    evidence: list[Evidence] = field(default_factory=list)
    recorded: Any = None

    @property
    def matched(self) -> bool:
        return bool(self.evidence)

    @property
    def done(self) -> bool:
        return self.recorded is not None

    @property
    def done_at(self) -> dt.datetime | None:
        if self.recorded is not None:
            intent = self.recorded.intent
            return intent.finished_at or intent.created_at
        return None

    @property
    def intents(self) -> list[Intent]:
        """Suggested intents, newest first (at most `EVIDENCE_LIMIT`)."""
        return [e.intent for e in self.evidence if e.intent is not None]

    @property
    def payment_ids(self) -> list[str]:
        return [e.payment_id for e in self.evidence if e.payment_id]

    @property
    def suggestions(self) -> list[Intent]:
        """Matching intents not already recorded as evidence of any case."""
        return [i for i in self.intents if not getattr(i, "used_as_evidence", False)]


def default_case_rows() -> list[dict[str, str]]:
    """The shipped default list, in the shape `homologation_cases_load` takes."""
    return [
        {"codigo": c.code, "caso": c.title, "instrucciones": c.how, "regla": c.code} for c in CASES
    ]


def case_list() -> list:
    """The active cases, in order: Prisma's list when one was loaded, else the shipped default
    (seeded by a migration; the fallback covers a table emptied by hand)."""
    cases = list(HomologationCase.objects.filter(active=True).order_by("position", "code"))
    if cases:
        return cases
    return [
        HomologationCase(code=c.code, title=c.title, how=c.how, matcher=c.code, position=n)
        for n, c in enumerate(CASES)
    ]


def homologation_credentials(merchant: Merchant) -> QuerySet[Credential]:
    """The homologation credentials whose evidence is the merchant's: those it is served by
    (a preintegrada shared by an integrator brings the evidence of its other clients)."""
    return Credential.objects.filter(merchants=merchant, environment=Environment.HOMOLOGATION)


def homologation_intents(merchant: Merchant) -> QuerySet[Intent]:
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


def recorded_evidence(merchant: Merchant) -> QuerySet[HomologationEvidence]:
    """The evidence recorded with the merchant's homologation credentials, or in its stores."""
    return HomologationEvidence.objects.filter(
        Q(credential__in=homologation_credentials(merchant).values("pk"))
        | Q(intent__store__merchant=merchant)
    ).select_related("case", "intent", "intent__terminal", "recorded_by")


def homologation_status(*, merchant: Merchant) -> list[CaseStatus]:
    """Every active case, in order, with its recorded evidence and up to three suggestions.

    A constant number of queries whatever the ledger or the number of cases: the cases, the
    recorded evidence, one query over the matching operations (each case's rule an annotation),
    and the token renewals.
    """
    cases = case_list()
    recorded = {ev.case.code: ev for ev in recorded_evidence(merchant)}
    used = {ev.intent_id for ev in recorded.values()}
    rules: dict[str, Q] = {}
    for case in cases:
        rule = MATCHERS.get(case.matcher)
        if rule is not None:
            rules[case.code] = rule
    suggested: dict[str, list[Evidence]] = {code: [] for code in rules}
    if rules:
        flags = {f"m{n}": code for n, code in enumerate(rules)}
        annotations = {
            flag: ExpressionWrapper(rules[code], output_field=BooleanField())
            for flag, code in flags.items()
        }
        # The union of the rules is filtered as one CASE, not as an OR of 13 arms: on the
        # OR, PostgreSQL's planner weighed bitmap-OR paths over the intent's indexes for every
        # arm (100 ms of planning per page view, whatever the ledger held, against 2 ms to run).
        rows = (
            homologation_intents(merchant)
            .alias(
                matches_a_case=SqlCase(
                    When(reduce(operator.or_, rules.values()), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                )
            )
            .filter(matches_a_case=True)
            .annotate(**annotations)
            .select_related("terminal")
            .order_by("-created_at", "-pk")[:CANDIDATE_LIMIT]
        )
        for intent in rows:
            intent.used_as_evidence = intent.pk in used  # type: ignore[attr-defined]
            for flag, code in flags.items():
                if getattr(intent, flag) and len(suggested[code]) < EVIDENCE_LIMIT:
                    suggested[code].append(
                        Evidence(at=intent.finished_at or intent.created_at, intent=intent)
                    )
    statuses = []
    for case in cases:
        if case.matcher == TOKEN_RENEWAL_CODE:
            evidence = _token_renewals(merchant)
        else:
            evidence = suggested.get(case.code, [])
        statuses.append(CaseStatus(case=case, evidence=evidence, recorded=recorded.get(case.code)))
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
    # The enforced gate (`stores.golive`): the pilot store, its terminals that may charge, and
    # whether (and when, by whom) an owner marked the pilot passed.
    merchant: Merchant | None = None
    pilot_terminals: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.merchant is not None and self.merchant.pilot_passed_at is not None

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
        # Test terminals never charge in production: only production ones count for the pilot.
        .annotate(
            enabled_terminals=Count(
                "terminals",
                filter=Q(terminals__enabled=True, terminals__purpose=TerminalPurpose.PRODUCTION),
            )
        )
        .order_by("name")
    ]
    warnings = []
    # Once an owner marked the pilot passed the roll-out is open: no pilot-size warning.
    if not done and merchant.pilot_passed_at is None:
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
    merchant = Merchant.objects.select_related("pilot_store", "pilot_passed_by").get(pk=merchant.pk)
    pilot_terminals = []
    if merchant.pilot_store is not None:
        ids = golive.pilot_terminal_ids(merchant.pilot_store)
        pilot_terminals = list(Terminal.objects.filter(pk__in=ids).order_by("pk"))
    return PilotStatus(
        stores=stores,
        homologation_done=done,
        warnings=warnings,
        merchant=merchant,
        pilot_terminals=pilot_terminals,
    )
