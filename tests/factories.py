"""Plain factory functions with unique values from counters. Every keyword overrides a default.

`make_intent` is the suite's one way to write an intent row directly (no provider involved);
tests of the real services go through them against the simulator instead.
"""

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from stores.models import Credential, Environment, Membership, Merchant, PosClient, Store, Terminal
from stores.selectors import credential_for_store
from stores.services import pos_client_create
from stores.validators import cuit_check_digit
from transactions.business_day import business_day_of
from transactions.models import Intent
from transactions.states import FINAL_STATES, Kind, State

DEFAULT_PASSWORD = "clave-de-prueba-123"
DEFAULT_SECRET_KEY = "secreto-de-prueba-no-mostrar"

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def valid_cuit(serial: int | None = None) -> str:
    """A CUIT with a valid check digit (prefix 30, a company), distinct for each serial."""
    serial = _next() if serial is None else serial
    while True:
        first_ten = f"30{70000000 + serial:08d}"
        digit = cuit_check_digit(first_ten)
        if digit is not None:
            return f"{first_ten[:2]}-{first_ten[2:]}-{digit}"
        serial += 100_000  # this body has no valid check digit; try a far-away one


def make_user(username: str | None = None, password: str = DEFAULT_PASSWORD, **kw):
    username = username or f"usuario{_next()}"
    user = get_user_model().objects.create_user(username=username, password=password, **kw)
    return user


def make_merchant(**kw) -> Merchant:
    n = _next()
    kw.setdefault("cuit", valid_cuit(n))
    kw.setdefault("legal_name", f"Comercio {n} S.A.")
    merchant = Merchant(**kw)
    merchant.full_clean()
    merchant.save()
    return merchant


def make_store(merchant: Merchant | None = None, **kw) -> Store:
    n = _next()
    kw.setdefault("name", f"Sucursal {n}")
    kw.setdefault("code", f"suc-{n}")
    kw.setdefault("environment", Environment.HOMOLOGATION)
    merchant = merchant or make_merchant()
    if "credential" not in kw:
        # Convenience of the suite, not a rule of the portal: a store made for a merchant that
        # already holds a credential for the store's environment is given it (the newest).
        kw["credential"] = (
            Credential.objects.active()
            .filter(merchants=merchant, environment=kw["environment"])
            .order_by("-created_at")
            .first()
        )
    return Store.objects.create(merchant=merchant, **kw)


def make_terminal(store: Store | None = None, **kw) -> Terminal:
    n = _next()
    kw.setdefault("terminal_id", f"{50_000_000 + n:08d}")
    kw.setdefault("label", f"Caja {n}")
    terminal = Terminal(store=store or make_store(), **kw)
    terminal.full_clean()
    terminal.save()
    return terminal


def make_credential(
    merchants: list[Merchant] | tuple[Merchant, ...] = (),
    secret_key: str = DEFAULT_SECRET_KEY,
    *,
    give_to_stores: bool = True,
    tested: bool = False,
    **kw,
) -> Credential:
    """A credential of `merchants`. With `give_to_stores` (the default, a convenience of the
    suite) it becomes the credential of those merchants' stores in its environment that have
    none yet; the portal itself never assigns one implicitly (`store_set_credential`). `tested`
    marks it as having passed "Probar conexión"."""
    n = _next()
    kw.setdefault("name", f"Credencial {n}")
    kw.setdefault("environment", Environment.HOMOLOGATION)
    kw.setdefault("base_url", "https://simulator.invalid")
    kw.setdefault("public_key", f"public-key-{n}")
    if tested:
        kw.setdefault("last_tested_ok_at", timezone.now())
    credential = Credential(**kw)
    credential.set_secret(secret_key)
    credential.save()
    credential.merchants.set(merchants)
    if give_to_stores and merchants:
        Store.objects.filter(
            merchant__in=merchants, environment=credential.environment, credential__isnull=True
        ).update(credential=credential)
    return credential


def make_production_credential(merchant: Merchant, **kw) -> Credential:
    """A tested production credential of `merchant`, given to no store, after Prisma approved
    the merchant's homologation (a homologation credential marked approved): what switching a
    store to production needs (`golive.store_to_production_problem`)."""
    if not Credential.objects.filter(
        merchants=merchant, homologation_approved_at__isnull=False
    ).exists():
        make_credential(
            [merchant],
            give_to_stores=False,
            name=f"Homologación aprobada {_next()}",
            homologation_approved_at=timezone.now(),
        )
    kw.setdefault("name", "Producción")
    return make_credential(
        [merchant], environment=Environment.PRODUCTION, give_to_stores=False, tested=True, **kw
    )


def make_membership(user, role: str, *, store: Store | None = None, merchant=None) -> Membership:
    """A role on one store, or (with `merchant=`) on every store of a merchant."""
    return Membership.objects.create(user=user, role=role, store=store, merchant=merchant)


def make_pos_client(store: Store | None = None, name: str | None = None) -> tuple[PosClient, str]:
    """A POS key through the real service; returns the client and its raw key."""
    return pos_client_create(store=store or make_store(), name=name or f"POS {_next()}")


DEFAULT_AMOUNT = Decimal("1000.00")
_UNSET = object()


def make_intent(
    store: Store,
    *,
    terminal: Terminal | None = None,
    credential: Credential | None = None,
    kind: str = Kind.PAYMENT,
    state: str = State.PENDING,
    amount=_UNSET,
    offered_terminals: list[Terminal] | None = None,
    **fields,
) -> Intent:
    """An intent row as the services would have left it, written directly (no provider).

    Defaults, each overridden by passing the keyword:
    - `credential`: the store's credential (`credential_for_store`), else a new one for the
      store's merchant (which becomes the store's).
    - `terminal` (the one that took it): none.
    - `offered_terminals`: `[terminal]` when a terminal is given, else none; pass a list to
      offer an intent no terminal has taken yet.
    - `amount`: `DEFAULT_AMOUNT` ($1.000,00); `None` for a settlement, which carries no amount.
    - `provider_id`: a unique `prov-<n>`, except for `created` (not sent yet) and `in_doubt`
      (the provider may not know it), which have none.
    - an approved payment carries what the provider reports on approval: a VISA card (`VI`)
      with a unique last four, authorization code and ticket, batch 1, status `CONFIRMED`.
    - a final state has `finished_at` now, and the business day the engine would have written:
      `transacted_at` the provider's status date (`provider_status_at`) else `finished_at`,
      `business_day` its date in the store's time zone.
    """
    n = _next()
    if amount is _UNSET:
        amount = None if kind == Kind.SETTLEMENT else DEFAULT_AMOUNT
    if credential is None:
        credential = credential_for_store(store=store) or make_credential(
            merchants=[store.merchant]
        )
    if state not in (State.CREATED, State.IN_DOUBT):
        fields.setdefault("provider_id", f"prov-{n}")
    if state == State.APPROVED and kind == Kind.PAYMENT:
        fields.setdefault("card_brand", "VISA")
        fields.setdefault("card_brand_code", "VI")
        fields.setdefault("card_last_four", f"{n % 10000:04d}")
        fields.setdefault("authorization_code", f"A{n:05d}")
        fields.setdefault("ticket_number", str(n))
        fields.setdefault("batch_number", 1)
        fields.setdefault("provider_status", "CONFIRMED")
    if state in FINAL_STATES:
        fields.setdefault("finished_at", timezone.now())
        fields.setdefault(
            "transacted_at", fields.get("provider_status_at") or fields["finished_at"]
        )
        if fields["transacted_at"] is not None:
            fields.setdefault(
                "business_day",
                business_day_of(time_zone=store.time_zone, moment=fields["transacted_at"]),
            )
    intent = Intent.objects.create(
        store=store,
        credential=credential,
        terminal=terminal,
        kind=kind,
        state=state,
        amount=amount,
        **fields,
    )
    if offered_terminals is None and terminal is not None:
        offered_terminals = [terminal]
    if offered_terminals:
        intent.offered_terminals.set(offered_terminals)
    return intent
