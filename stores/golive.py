"""Go-live rules: which terminals may charge in which environment, and the production pilot
gate (issue 14). Pure decisions over the database; `stores.services` applies them to settings
changes (a ValidationError) and `transactions` to charges (an `IntentRuleError` with its own
code). One module, so the settings pages and the charge path cannot disagree.

Prisma's process: after homologation (no store goes to production before Prisma approved it),
a production pilot in ONE store with up to TWO production
terminals, then the roll-out. Until an owner marks the pilot passed
(`stores.services.merchant_pilot_pass`), the merchant's first store switched to production is
its pilot store, no other store may go to production, and only its first two production
terminals may charge.
"""

from dataclasses import dataclass

from stores.models import Credential, Environment, Merchant, Store, Terminal, TerminalPurpose

PILOT_MAX_STORES = 1
PILOT_MAX_TERMINALS = 2

PURPOSE_FOR_ENVIRONMENT = {
    Environment.SANDBOX: TerminalPurpose.TEST,
    Environment.HOMOLOGATION: TerminalPurpose.TEST,
    Environment.PRODUCTION: TerminalPurpose.PRODUCTION,
}


@dataclass(frozen=True)
class Refusal:
    """Why something is outside the rules: `kind` is "purpose", "homologation" or "pilot";
    `message` is Spanish and says what to do."""

    kind: str
    message: str


def purpose_problem(*, terminal: Terminal, environment: str) -> Refusal | None:
    """A test terminal in production, or a production terminal in sandbox/homologation."""
    wanted = PURPOSE_FOR_ENVIRONMENT[Environment(environment)]
    if terminal.purpose == wanted:
        return None
    if wanted == TerminalPurpose.PRODUCTION:
        message = (
            f"La terminal {terminal.terminal_id} es de prueba y la sucursal está en producción: "
            "usá una terminal de producción."
        )
    else:
        message = (
            f"La terminal {terminal.terminal_id} es de producción y la sucursal está en "
            f"{Environment(environment).label.lower()}: usá una terminal de prueba."
        )
    return Refusal("purpose", message)


def pilot_terminal_ids(store: Store) -> list[int]:
    """The production terminals of the pilot store that may charge during the pilot: the first
    two by creation (pk), so a third one added later never displaces them."""
    return list(
        Terminal.objects.filter(store=store, purpose=TerminalPurpose.PRODUCTION)
        .order_by("pk")
        .values_list("pk", flat=True)[:PILOT_MAX_TERMINALS]
    )


def _pilot_open(merchant: Merchant) -> bool:
    return merchant.pilot_passed_at is None


def charge_problem(*, store: Store, terminal: Terminal, environment: str) -> Refusal | None:
    """Whether a payment on `terminal` of `store` is outside the go-live rules. `environment`
    is that of the credential the charge goes with (the store's, read fresh)."""
    refusal = purpose_problem(terminal=terminal, environment=environment)
    if refusal is not None or environment != Environment.PRODUCTION:
        return refusal
    merchant = Merchant.objects.only("pilot_store_id", "pilot_passed_at").get(pk=store.merchant_id)
    if not _pilot_open(merchant):
        return None
    if merchant.pilot_store_id != store.pk:
        return Refusal(
            "pilot",
            "El piloto de producción es en una sola sucursal y esta no es la sucursal piloto: "
            "hasta que el dueño marque el piloto aprobado no se cobra acá en producción.",
        )
    if terminal.pk not in pilot_terminal_ids(store):
        return Refusal(
            "pilot",
            f"El piloto de producción admite hasta {PILOT_MAX_TERMINALS} terminales y la "
            f"terminal {terminal.terminal_id} no es una de ellas: hasta que el dueño marque el "
            "piloto aprobado, cobrá en las terminales del piloto.",
        )
    return None


def merchant_homologated(merchant_id: int) -> bool:
    """Whether Prisma approved the homologation of a credential this merchant uses (its own, or
    an integrator's preintegrada that was approved once for all its clients)."""
    return Credential.objects.filter(
        merchants=merchant_id, homologation_approved_at__isnull=False
    ).exists()


def store_to_production_problem(*, store: Store) -> Refusal | None:
    """Whether switching `store` to a production credential is out of order: before Prisma
    approved the merchant's homologation, or past the pilot gate."""
    if not merchant_homologated(store.merchant_id):
        return Refusal(
            "homologation",
            "Prisma todavía no aprobó la homologación de este comercio: registrá la aprobación "
            "en la credencial de homologación (Homologación → «Prisma aprobó …») "
            "antes de pasar una sucursal a producción.",
        )
    merchant = Merchant.objects.only("pilot_store_id", "pilot_passed_at").get(pk=store.merchant_id)
    if not _pilot_open(merchant) or merchant.pilot_store_id in (None, store.pk):
        return None
    if not Store.objects.filter(
        pk=merchant.pilot_store_id, environment=Environment.PRODUCTION
    ).exists():
        return None  # the pilot store left production: another one may take its place
    return Refusal(
        "pilot",
        "El piloto de producción es en una sola sucursal y ya hay una: hasta que el dueño marque "
        "el piloto aprobado, las demás sucursales no pasan a producción.",
    )


def production_terminal_problem(*, terminal: Terminal) -> Refusal | None:
    """Whether marking `terminal` (not yet saved as production) a production terminal would
    exceed the pilot's two terminals."""
    store = terminal.store
    merchant = store.merchant
    if not _pilot_open(merchant) or store.environment != Environment.PRODUCTION:
        return None
    others = (
        Terminal.objects.filter(store=store, purpose=TerminalPurpose.PRODUCTION)
        .exclude(pk=terminal.pk)
        .count()
    )
    if others >= PILOT_MAX_TERMINALS:
        return Refusal(
            "pilot",
            f"El piloto de producción admite hasta {PILOT_MAX_TERMINALS} terminales de producción "
            "en la sucursal piloto: marcá el piloto aprobado antes de agregar más.",
        )
    return None
