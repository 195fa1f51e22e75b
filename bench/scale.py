#!/usr/bin/env python
"""Dashboard at scale: what each page and export costs with one day of history vs the whole.

    .venv/bin/python bench/scale.py [--intents N] [--stores S] [--days D] [--keep]
                                    [--reps 15] [--page-timeout 60]

Seeds a throw-away database with a store-month by default (5 stores x 6 terminals x 30 days x
300 payments, plus ~3 % reversals, ~2 % refunds, one settlement and its Batch row per
terminal-day, ~3 IntentEvents and ~2 GatewayCall rows per intent), with `bulk_create` (no
signals, no provider calls): times in Buenos Aires business hours, the usual brands (and some
"Visa"), cuotas, mostly approved with some declined, cancelled, failed and a few in doubt.
PostgreSQL when DATABASE_URL is set (only the server is taken from it: the script creates and
drops its own database, `ecrportal_bench_scale` or --db-name: two runs at once need two names),
else a SQLite file in a temp dir.

Production configuration: DEBUG=0, ECR_TESTING=0, persistent connections, collected static
files, HTTPS requests. It measures, logged in as an owner of every store:

1. every dashboard page and export with only the latest day seeded (median/p95, queries);
2. the query count of each page at 10 and at 100 stores (extra stores, one terminal each, a
   few sales today; removed again afterwards);
3. the same pages once the rest of the history is seeded, and the ratio full/day;
4. the daily report vs one hand-written SQL GROUP BY returning the same totals, a month of
   daily totals (`range_totals`) vs one grouped SQL, and the XLSX of a store-day, of the
   merchant-day and of the merchant-month (the period export, streamed) in a fresh process
   (time and peak RSS).

Goals (issue 10): ratio <= 1.5, p95 <= 300 ms per page, query counts constant with rows and
stores, daily report <= 2x the SQL, a month <= 2x one grouped SQL, store-day XLSX <= 1 s, a
merchant-month XLSX within GOAL_MONTH_RSS_MB of a warmed-up process. The
last line is `scale: OK` or `scale: FAILED (<what>)`. Loops are bounded: a request is cut at
`--page-timeout` (no statement starts after it; PostgreSQL cancels a running one through
statement_timeout, SQLite through a progress handler), and a page cut once is recorded, shown
as "cut", and not repeated; other pages repeat up to --reps times or about 20 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "ecrportal_bench_scale"
FERNET_KEY = "p7nWezPIC70-6hBUpYVIxZx9rkBrLoXVBW0wuXy6c4c="  # throw-away, bench only
HOST = "portal.bench.invalid"
TZ = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
TERMINALS_PER_STORE = 6
BATCH_SIZE = 5000
SLOW_ONCE_S = 60.0  # a page this slow once is recorded and not repeated
PAGE_BUDGET_S = 20.0  # repetitions of one page stop after this long (at least 3 runs)

GOAL_RATIO = 1.5
GOAL_P95_MS = 300.0
GOAL_REPORT_VS_SQL = 2.0
GOAL_XLSX_S = 1.0
# Peak memory a streamed merchant-month XLSX may add over the warmed-up process.
GOAL_MONTH_RSS_MB = 150


# --- Environment: production settings, our own database -------------------------------------


def _postgres_database(keep: bool, name: str) -> tuple[str, Callable[[], None]]:
    """Creates the bench database on the server of DATABASE_URL; returns its URL and a drop
    function. Only that database (`--db-name`) is ever created or dropped."""
    import psycopg

    given = os.environ["DATABASE_URL"]
    parts = urlsplit(given)
    maintenance_name = parts.path.lstrip("/") or "postgres"
    if maintenance_name == name:
        maintenance_name = "postgres"
    maintenance = urlunsplit(parts._replace(path=f"/{maintenance_name}"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        from django.db import connections

        connections.close_all()
        if keep:
            return
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def configure_environment(tmp: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ecrportal.settings",
        DEBUG="0",
        ECR_TESTING="0",
        ECR_SIMULATOR="0",
        SECRET_KEY="bench-scale-" + "x" * 40,
        ALLOWED_HOSTS=HOST,
        ECR_ENCRYPTION_KEYS=FERNET_KEY,
        LOG_LEVEL="ERROR",
        BENCH_STATIC_ROOT=str(tmp / "static"),
    )


def setup_django() -> None:
    import django
    from django.conf import settings
    from django.db import connection

    django.setup()
    # Production keeps connections (CONN_MAX_AGE=60 with DATABASE_URL); SQLite alike here.
    if connection.vendor == "sqlite":
        settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
        connection.settings_dict["CONN_MAX_AGE"] = 60
    # Production serves collectstatic's output (manifest storage); a temp dir keeps the
    # worktree clean. Set before anything reads the storage or WhiteNoise starts.
    settings.STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]


# --- Seeding ----------------------------------------------------------------------------------

BRANDS = [  # (card_brand, code, acquirer, weight)
    ("VISA", "VI", "PRISMA", 44),
    ("MASTERCARD", "MC", "PRISMA", 28),
    ("AMEX", "AM", "AMEX", 8),
    ("NARANJA", "NJ", "PRISMA", 10),
    ("CABAL", "CB", "PRISMA", 6),
    ("Visa", "VI", "PRISMA", 4),  # the provider's spelling varies
]
BRAND_WEIGHTS = [b[3] for b in BRANDS]
INSTALLMENTS = [1, 3, 6, 12]
INSTALLMENT_WEIGHTS = [60, 20, 12, 8]
RECEIPT = (
    "{brand}\nCOMERCIO BENCH S.A.\nSUCURSAL {store}\nTERMINAL {terminal}  LOTE {batch}\n"
    "CUPON {ticket}  AUT {auth}\nTARJETA ************{last4}\n{ptype} {cuotas} CUOTA(S)\n"
    "TOTAL $ {amount}\n{when}\nFIRMA ..................................\n"
    "ACLARACION .............................\nCOPIA {copy}\n"
)


class _NoAutoNow:
    """Lets bulk_create write the seeded created_at/updated_at instead of now()."""

    def __init__(self, *models):
        self.fields = [
            f
            for m in models
            for f in m._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]

    def __enter__(self):
        self.saved = [(f, f.auto_now, f.auto_now_add) for f in self.fields]
        for f in self.fields:
            f.auto_now = f.auto_now_add = False

    def __exit__(self, *exc):
        for f, auto_now, auto_now_add in self.saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


@dataclass
class Counts:
    intents: int = 0
    events: int = 0
    calls: int = 0
    offers: int = 0
    batches: int = 0

    def add(self, other: Counts) -> None:
        for name in ("intents", "events", "calls", "offers", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Seeder:
    """Writes history for some stores, one local day at a time."""

    def __init__(self, *, first_day: dt.date, seed: int = 10):
        from stores.models import Credential, Environment, Membership, Merchant
        from stores.validators import cuit_check_digit

        self.rng = random.Random(seed)
        self.first_day = first_day
        serial = 4242
        while cuit_check_digit(f"30{70000000 + serial:08d}") is None:
            serial += 1
        body = f"30{70000000 + serial:08d}"
        self.merchant = Merchant.objects.create(
            cuit=f"{body[:2]}-{body[2:]}-{cuit_check_digit(body)}", legal_name="Bench Comercio S.A."
        )
        credential = Credential(
            name="Bench homologación",
            environment=Environment.HOMOLOGATION,
            base_url="https://prisma.invalid",
            public_key="bench-pk",
        )
        credential.set_secret("bench-sk")
        credential.save()
        credential.merchants.set([self.merchant])
        self.credential = credential
        from django.contrib.auth import get_user_model

        self.owner = get_user_model().objects.create_user(username="bench-owner", password=None)
        Membership.objects.create(user=self.owner, merchant=self.merchant, role="owner")
        self.terminal_serial = 0

    def add_stores(self, count: int, *, prefix: str, terminals: int) -> list:
        from stores.models import Store, Terminal

        stores = []
        for i in range(count):
            store = Store.objects.create(
                merchant=self.merchant, name=f"{prefix.title()} {i + 1}", code=f"{prefix}-{i + 1}"
            )
            for _ in range(terminals):
                self.terminal_serial += 1
                Terminal.objects.create(
                    store=store,
                    terminal_id=f"{60_000_000 + self.terminal_serial:08d}",
                    label=f"Caja {self.terminal_serial}",
                    model="Paystore P2",
                )
            stores.append(store)
        return stores

    # One terminal-day: payments, their followups, the close.
    def _moment(self, day: dt.date, hour_from: float = 9.0, hour_to: float = 21.0) -> dt.datetime:
        seconds = self.rng.uniform(hour_from * 3600, hour_to * 3600)
        midnight = dt.datetime.combine(day, dt.time.min, tzinfo=TZ)
        return (midnight + dt.timedelta(seconds=seconds)).astimezone(dt.UTC)

    def _provider_fields(self, intent, *, status: str, when: dt.datetime) -> None:
        intent.provider_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
        intent.provider_status = status
        intent.provider_status_at = when
        # What the engine writes with the final state (`transactions.business_day`).
        intent.transacted_at = when
        intent.business_day = when.astimezone(TZ).date()
        intent.ecr_transaction_id = uuid.UUID(int=self.rng.getrandbits(128)).hex

    def _payment(self, store, terminal, day, ticket: int, batch: int):
        from transactions.models import Intent
        from transactions.states import Kind, State

        rng = self.rng
        created = self._moment(day)
        brand, code, acquirer, _ = rng.choices(BRANDS, BRAND_WEIGHTS)[0]
        debit = brand in ("VISA", "MASTERCARD", "CABAL", "Visa") and rng.random() < 0.35
        cuotas = 1 if debit else rng.choices(INSTALLMENTS, INSTALLMENT_WEIGHTS)[0]
        amount = Decimal(rng.randint(50_000, 15_000_000)) / 100
        roll = rng.random()
        needs_attention = False
        if roll < 0.9045:
            state, status = State.APPROVED, "CONFIRMED"
        elif roll < 0.9545:
            state, status = State.DECLINED, "DECLINED"
        elif roll < 0.9795:
            state, status = State.CANCELLED, "UNDONE"
        elif roll < 0.9993:
            state, status = State.FAILED, "ERROR"
        elif roll < 0.9997:
            state, status, needs_attention = State.IN_DOUBT, "", True
        else:  # approved, but the provider said something we do not know first
            state, status, needs_attention = State.APPROVED, "CONFIRMED", True
        taken = created + dt.timedelta(seconds=rng.uniform(4, 25))
        finished = taken + dt.timedelta(seconds=rng.uniform(12, 45))
        intent = Intent(
            kind=Kind.PAYMENT,
            state=state,
            store=store,
            credential=self.credential,
            terminal=terminal,
            amount=amount,
            installments=cuotas,
            reference=f"{store.code}-{day:%m%d}-{terminal.terminal_id}-{ticket}",
            menu_text="Venta",
            created_at=created,
            sent_at=created + dt.timedelta(milliseconds=300),
            taken_at=taken,
            updated_at=finished,
        )
        if state == State.IN_DOUBT:
            intent.taken_at = None
            intent.updated_at = created
            intent.attention_reason = "Prisma no respondió la creación: en duda."
            intent.ecr_transaction_id = uuid.UUID(int=rng.getrandbits(128)).hex
            return intent
        self._provider_fields(intent, status=status, when=finished)
        intent.finished_at = finished
        intent.needs_attention = needs_attention
        if needs_attention:
            intent.attention_reason = "Prisma respondió un estado desconocido."
        intent.payment_type = "DEBIT" if debit else "CREDIT"
        intent.acquirer = acquirer
        intent.card_brand = brand
        intent.card_brand_code = code
        intent.entry_mode = rng.choice(["CHIP", "CONTACTLESS", "CONTACTLESS", "SWIPE"])
        intent.card_bin = f"{rng.randint(400000, 559999)}"
        intent.card_last_four = f"{rng.randint(0, 9999):04d}"
        if state == State.APPROVED:
            intent.authorized_amount = amount
            intent.authorization_code = f"{rng.randint(0, 999999):06d}"
            intent.ticket_number = str(ticket)
            intent.batch_number = batch
            intent.response_code = "00"
            intent.response_message = "APROBADA"
            fields = {
                "brand": brand.upper(),
                "store": store.name.upper(),
                "terminal": terminal.terminal_id,
                "batch": batch,
                "ticket": ticket,
                "auth": intent.authorization_code,
                "last4": intent.card_last_four,
                "ptype": "DEBITO" if debit else "CREDITO",
                "cuotas": cuotas,
                "amount": amount,
                "when": finished.astimezone(TZ).strftime("%d/%m/%Y %H:%M"),
            }
            intent.client_receipt = RECEIPT.format(copy="CLIENTE", **fields)
            intent.merchant_receipt = RECEIPT.format(copy="COMERCIO", **fields)
        else:
            intent.response_code = "05"
            intent.response_message = {"declined": "RECHAZADA", "failed": "ERROR"}.get(state, "")
        return intent

    def _followup(self, payment, kind: str, day: dt.date):
        from transactions.models import Intent
        from transactions.states import Kind, State

        rng = self.rng
        after = payment.finished_at.astimezone(TZ)
        start_hour = after.hour + after.minute / 60 + 0.05
        created = self._moment(day, min(start_hour, 21.8), 21.9)
        finished = created + dt.timedelta(seconds=rng.uniform(10, 40))
        approved = rng.random() < 0.95
        if kind == Kind.REVERSAL:
            amount = payment.amount if rng.random() < 0.5 else None
            status = "REVERSED" if approved else "REVERSAL_DECLINED"
        else:
            amount = (payment.amount * Decimal(rng.randint(20, 100)) / 100).quantize(
                Decimal("0.01")
            )
            status = "CONFIRMED" if approved else "DECLINED"
        intent = Intent(
            kind=kind,
            state=State.APPROVED if approved else State.DECLINED,
            store=payment.store,
            credential=self.credential,
            terminal=payment.terminal,
            original=payment,
            amount=amount,
            authorized_amount=(amount or payment.amount) if approved else None,
            created_at=created,
            sent_at=created + dt.timedelta(milliseconds=300),
            taken_at=created + dt.timedelta(seconds=5),
            finished_at=finished,
            updated_at=finished,
            card_brand=payment.card_brand,
            card_brand_code=payment.card_brand_code,
            card_last_four=payment.card_last_four,
            payment_type=payment.payment_type,
            batch_number=payment.batch_number,
        )
        self._provider_fields(intent, status=status, when=finished)
        return intent

    def _settlement(self, store, terminal, day: dt.date, batch: int):
        from transactions.models import Intent
        from transactions.states import Kind, State

        created = self._moment(day, 22.0, 22.05)
        finished = created + dt.timedelta(seconds=self.rng.uniform(20, 90))
        intent = Intent(
            kind=Kind.SETTLEMENT,
            state=State.APPROVED,
            store=store,
            credential=self.credential,
            terminal=terminal,
            batch_number=batch,
            created_at=created,
            sent_at=created + dt.timedelta(milliseconds=300),
            taken_at=created + dt.timedelta(seconds=5),
            finished_at=finished,
            updated_at=finished,
        )
        self._provider_fields(intent, status="CONFIRMED", when=finished)
        return intent

    def seed_day(self, stores, day: dt.date, per_terminal: int, *, full_day: bool = True) -> Counts:
        """Writes one local day of every terminal of `stores`. `full_day` adds reversals,
        refunds and the close (with its Batch row)."""
        from transactions.models import Batch, GatewayCall, Intent, IntentEvent
        from transactions.states import Kind, State

        rng = self.rng
        batch = 100 + (day - self.first_day).days
        payments, offers_all = [], []
        for store in stores:
            terminals = list(store.terminals.all())
            for terminal in terminals:
                for ticket in range(1, per_terminal + 1):
                    payment = self._payment(store, terminal, day, ticket, batch)
                    payments.append(payment)
                    # Most charges go to the terminal chosen; some POS offer the whole store.
                    offers_all.append(terminals if rng.random() < 0.08 else [terminal])
        with _NoAutoNow(Intent, IntentEvent, GatewayCall):
            Intent.objects.bulk_create(payments, batch_size=BATCH_SIZE)
            followups, settlements = [], []
            if full_day:
                for payment in payments:
                    if payment.state != State.APPROVED:
                        continue
                    roll = rng.random()
                    if roll < 0.03 and payment.card_brand_code != "AM":
                        followups.append(self._followup(payment, Kind.REVERSAL, day))
                    elif roll < 0.05:
                        followups.append(self._followup(payment, Kind.REFUND, day))
                for store in stores:
                    for terminal in store.terminals.all():
                        settlements.append(self._settlement(store, terminal, day, batch))
                Intent.objects.bulk_create(followups + settlements, batch_size=BATCH_SIZE)
            rest = followups + settlements
            through = Intent.offered_terminals.through
            offers = [
                through(intent_id=p.pk, terminal_id=t.pk)
                for p, terminals in zip(payments, offers_all, strict=True)
                for t in terminals
            ] + [through(intent_id=i.pk, terminal_id=i.terminal_id) for i in rest]
            through.objects.bulk_create(offers, batch_size=BATCH_SIZE)
            events, calls = self._history(payments + rest)
            IntentEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)
            GatewayCall.objects.bulk_create(calls, batch_size=BATCH_SIZE)
            batches = [
                Batch(
                    terminal_id=s.terminal_id,
                    batch_number=s.batch_number,
                    settlement=s,
                    closed_at=s.finished_at,
                    closing_ticket=f"CIERRE DE LOTE {s.batch_number}\nTERMINAL {s.terminal_id}",
                    totals=self._batch_totals(s, payments, followups),
                    verdict=Batch.Verdict.MATCHED,
                )
                for s in settlements
            ]
            Batch.objects.bulk_create(batches, batch_size=BATCH_SIZE)
        return Counts(
            intents=len(payments) + len(rest),
            events=len(events),
            calls=len(calls),
            offers=len(offers),
            batches=len(batches),
        )

    @staticmethod
    def _batch_totals(settlement, payments, followups) -> dict:
        from transactions.states import Kind, State

        def approved(items, kind):
            return [
                i
                for i in items
                if i.terminal_id == settlement.terminal_id
                and i.kind == kind
                and i.state == State.APPROVED
            ]

        gross = sum((p.amount for p in approved(payments, Kind.PAYMENT)), Decimal("0"))
        reversals = approved(followups, Kind.REVERSAL)
        refunds = approved(followups, Kind.REFUND)
        rev = sum((r.authorized_amount for r in reversals), Decimal("0"))
        ref = sum((r.authorized_amount for r in refunds), Decimal("0"))
        return {
            "gross": str(gross),
            "reversals": {"count": len(reversals), "amount": str(rev)},
            "refunds": {"count": len(refunds), "amount": str(ref)},
            "net": str(gross - rev - ref),
        }

    def _history(self, intents) -> tuple[list, list]:
        """~3 events and ~2 provider calls per intent, as the lifecycle writes them."""
        from transactions.models import GatewayCall, IntentEvent
        from transactions.states import Kind, State

        events, calls = [], []
        paths = {
            Kind.PAYMENT: "/v1/payments",
            Kind.REVERSAL: "/v1/reversals",
            Kind.REFUND: "/v1/refunds",
            Kind.SETTLEMENT: "/v1/settlements",
        }
        for intent in intents:
            created = intent.created_at
            events.append(
                IntentEvent(
                    intent_id=intent.pk,
                    created_at=created,
                    type=IntentEvent.Type.CREATED,
                    to_state=State.CREATED,
                    actor_label="pos",
                )
            )
            path = paths[intent.kind]
            calls.append(
                GatewayCall(
                    credential_id=self.credential.pk,
                    intent_id=intent.pk,
                    operation=f"{intent.kind}_create",
                    method="POST",
                    path=path,
                    http_status=201 if intent.provider_id else None,
                    outcome=GatewayCall.Outcome.OK
                    if intent.provider_id
                    else GatewayCall.Outcome.IN_DOUBT,
                    duration_ms=self.rng.randint(120, 900),
                    created_at=intent.sent_at,
                )
            )
            if not intent.provider_id:  # in doubt: the create's answer was lost
                events.append(
                    IntentEvent(
                        intent_id=intent.pk,
                        created_at=intent.sent_at,
                        type=IntentEvent.Type.STATE,
                        from_state=State.CREATED,
                        to_state=State.IN_DOUBT,
                        actor_label="sistema",
                        message="Sin respuesta de Prisma.",
                    )
                )
                continue
            events.append(
                IntentEvent(
                    intent_id=intent.pk,
                    created_at=intent.sent_at,
                    type=IntentEvent.Type.STATE,
                    from_state=State.CREATED,
                    to_state=State.PENDING,
                    provider_status="PAYMENT_REQUEST",
                    actor_label="sistema",
                )
            )
            events.append(
                IntentEvent(
                    intent_id=intent.pk,
                    created_at=intent.finished_at,
                    type=IntentEvent.Type.PROVIDER,
                    from_state=State.PENDING,
                    to_state=intent.state,
                    provider_status=intent.provider_status,
                    actor_label="sweeper",
                    raw={
                        "id": intent.provider_id,
                        "status": intent.provider_status,
                        "amount": str(intent.amount or ""),
                        "card_brand": intent.card_brand,
                        "last_four": intent.card_last_four,
                    },
                )
            )
            calls.append(
                GatewayCall(
                    credential_id=self.credential.pk,
                    intent_id=intent.pk,
                    operation=f"{intent.kind}_get",
                    method="GET",
                    path=f"{path}/{intent.provider_id}",
                    http_status=200,
                    outcome=GatewayCall.Outcome.OK,
                    duration_ms=self.rng.randint(60, 400),
                    created_at=intent.finished_at,
                )
            )
        return events, calls


# --- A year of history, generated by PostgreSQL -------------------------------------------------
#
# `bulk_create` writes ~1,100 intents/s (Python builds every row, the server maintains 24
# indexes and checks 6 foreign keys per row): a merchant-year would take hours. For `--year` the
# rows are generated by the server (INSERT ... SELECT over generate_series, with the same
# distributions as `Seeder`), with the ledger's secondary indexes dropped during the load and
# rebuilt once afterwards (a sorted build instead of 2 million random insertions each), and the
# foreign-key triggers off while rows that reference seeded rows by construction are written.
# The database ends up with the same schema and indexes as after `migrate`. Only what the
# report reads is seeded: intents (payments, reversals, refunds, settlements) and batches, not
# events, provider calls or terminal offers (the pages that read those are the month's).

_SQL_BRANDS = "ARRAY['VISA','MASTERCARD','AMEX','NARANJA','CABAL','Visa']"
_SQL_CODES = "ARRAY['VI','MC','AM','NJ','CB','VI']"
_SQL_ACQUIRERS = "ARRAY['PRISMA','PRISMA','AMEX','PRISMA','PRISMA','PRISMA']"
_SQL_INTENT_DEFAULTS = {  # NOT NULL columns without a database default, as Django writes them
    "installments": "1",
    "brand_restriction": "''",
    "method": "'card'",
    "menu_text": "''",
    "print_copies": "'BOTH'",
    "receipt_notes": "''",
    "print_receipt": "true",
    "unknown_status": "false",
    "entry_mode": "''",
    "card_bin": "''",
    "card_last_four": "''",
    "authorization_code": "''",
    "ticket_number": "''",
    "response_code": "''",
    "response_message": "''",
    "client_receipt": "''",
    "merchant_receipt": "''",
    "cancel_attempts": "0",
    "needs_attention": "false",
    "attention_reason": "''",
    "followup_status": "''",
    "reference_held": "false",
    "resolution": "''",
    "change_amount": "0",
    "reference": "''",
    "payment_type": "''",
    "acquirer": "''",
    "card_brand": "''",
    "card_brand_code": "''",
    "provider_id": "''",
    "provider_status": "''",
    "ecr_transaction_id": "''",
}


def _insert_intents(cursor, columns: dict[str, str], source: str, params: dict) -> int:
    """INSERT INTO the ledger the rows of `source` (SQL with the aliases used in `columns`),
    completing the NOT NULL columns the expressions leave out with Django's defaults."""
    full = {**_SQL_INTENT_DEFAULTS, **columns}
    names = ", ".join(full)
    values = ",\n  ".join(f"{expr}" for expr in full.values())
    cursor.execute(
        f"INSERT INTO transactions_intent (public_id, {names})\n"
        f"SELECT gen_random_uuid(),\n  {values}\n{source}",
        params,
    )
    return cursor.rowcount


def _local(day_expr: str, seconds_expr: str) -> str:
    """A store-local wall-clock moment (`day` + seconds) as timestamptz."""
    return f"(({day_expr})::timestamp + make_interval(secs => {seconds_expr})) AT TIME ZONE %(tz)s"


def _sql_chunk(
    cursor,
    *,
    stores,
    credential_id: int,
    first_day: dt.date,
    days: list[dt.date],
    per_terminal: int,
) -> Counts:
    """One run of consecutive days of every terminal of `stores`: payments, then reversals and
    refunds of the approved ones, one settlement per terminal-day and its Batch row."""
    params = {
        "stores": [s.pk for s in stores],
        "first": days[0],
        "last": days[-1],
        "origin": first_day,
        "n": per_terminal,
        "tz": str(TZ),
        "credential": credential_id,
    }
    counts = Counts()
    # Payments: one random draw per decision, as `Seeder._payment`.
    payments = f"""
        FROM (
          SELECT r.*, {_local("r.day", "9 * 3600 + r.r_time * 12 * 3600")} AS created,
                 CASE WHEN r.r_brand < 0.44 THEN 1 WHEN r.r_brand < 0.72 THEN 2
                      WHEN r.r_brand < 0.80 THEN 3 WHEN r.r_brand < 0.90 THEN 4
                      WHEN r.r_brand < 0.96 THEN 5 ELSE 6 END AS b,
                 CASE WHEN r.r_state < 0.9045 THEN 'approved'
                      WHEN r.r_state < 0.9545 THEN 'declined'
                      WHEN r.r_state < 0.9795 THEN 'cancelled' WHEN r.r_state < 0.9993 THEN 'failed'
                      WHEN r.r_state < 0.9997 THEN 'in_doubt' ELSE 'approved' END AS state,
                 r.r_state >= 0.9993 AS attention,
                 round((500 + r.r_amount * 149500)::numeric, 2) AS amount,
                 100 + (r.day - %(origin)s::date) AS batch
          FROM (
            SELECT t.id AS terminal_id, t.terminal_id AS terminal_code, t.store_id,
                   s.code AS store_code, s.name AS store_name, d::date AS day, g AS ticket,
                   random() AS r_state, random() AS r_brand, random() AS r_debit,
                   random() AS r_plan, random() AS r_amount, random() AS r_time,
                   random() AS r_take, random() AS r_finish, random() AS r_mode,
                   lpad((floor(random() * 1000000))::int::text, 6, '0') AS auth,
                   lpad((floor(random() * 10000))::int::text, 4, '0') AS last4,
                   (400000 + floor(random() * 160000))::int::text AS bin
            FROM stores_terminal t JOIN stores_store s ON s.id = t.store_id,
                 generate_series(%(first)s::date, %(last)s::date, interval '1 day') d,
                 generate_series(1, %(n)s) g
            WHERE t.store_id = ANY(%(stores)s)
            OFFSET 0
          ) r
          OFFSET 0
        ) p,
        LATERAL (SELECT
          p.created + make_interval(secs => 4 + p.r_take * 21) AS taken,
          p.created + make_interval(secs => 16 + p.r_take * 21 + p.r_finish * 33) AS finished,
          ({_SQL_BRANDS})[p.b] AS brand,
          p.b IN (1, 2, 5, 6) AND p.r_debit < 0.35 AS debit
        ) m,
        LATERAL (SELECT
          CASE WHEN m.debit THEN 1 WHEN p.r_plan < 0.60 THEN 1 WHEN p.r_plan < 0.80 THEN 3
               WHEN p.r_plan < 0.92 THEN 6 ELSE 12 END AS cuotas,
          p.state <> 'in_doubt' AS known
        ) c
    """
    approved = "p.state = 'approved'"
    receipt_copy = (
        "format(%(receipt)s, upper(m.brand), upper(p.store_name), p.terminal_code, p.batch, "
        "p.ticket, p.auth, p.last4, CASE WHEN m.debit THEN 'DEBITO' ELSE 'CREDITO' END, "
        "c.cuotas, p.amount, to_char(m.finished AT TIME ZONE %(tz)s, 'DD/MM/YYYY HH24:MI'), {})"
    ).format
    params["receipt"] = (
        "%s\nCOMERCIO BENCH S.A.\nSUCURSAL %s\nTERMINAL %s  LOTE %s\nCUPON %s  AUT %s\n"
        "TARJETA ************%s\n%s %s CUOTA(S)\nTOTAL $ %s\n%s\n"
        "FIRMA ..................................\nACLARACION .............................\n"
        "COPIA %s\n"
    )
    client_copy, merchant_copy = receipt_copy("'CLIENTE'"), receipt_copy("'COMERCIO'")
    counts.intents += _insert_intents(
        cursor,
        {
            "kind": "'payment'",
            "state": "p.state",
            "store_id": "p.store_id",
            "credential_id": "%(credential)s",
            "terminal_id": "p.terminal_id",
            "amount": "p.amount",
            "installments": "c.cuotas",
            "reference": "p.store_code || '-' || to_char(p.day, 'YYYYMMDD') || '-' "
            "|| p.terminal_code || '-' || p.ticket",
            "menu_text": "'Venta'",
            "created_at": "p.created",
            "sent_at": "p.created + interval '300 milliseconds'",
            "taken_at": "CASE WHEN c.known THEN m.taken END",
            "updated_at": "CASE WHEN c.known THEN m.finished ELSE p.created END",
            "finished_at": "CASE WHEN c.known THEN m.finished END",
            "ecr_transaction_id": "md5(random()::text)",
            "provider_id": "CASE WHEN c.known THEN md5(random()::text) ELSE '' END",
            "provider_status": "CASE p.state WHEN 'approved' THEN 'CONFIRMED' WHEN 'declined' "
            "THEN 'DECLINED' WHEN 'cancelled' THEN 'UNDONE' WHEN 'failed' THEN 'ERROR' ELSE '' END",
            "provider_status_at": "CASE WHEN c.known THEN m.finished END",
            # What the engine writes with the final state (`transactions.business_day`).
            "transacted_at": "CASE WHEN c.known THEN m.finished END",
            "business_day": "CASE WHEN c.known THEN (m.finished AT TIME ZONE %(tz)s)::date END",
            "needs_attention": "p.attention",
            "attention_reason": "CASE WHEN p.state = 'in_doubt' THEN "
            "'Prisma no respondió la creación: en duda.' WHEN p.attention THEN "
            "'Prisma respondió un estado desconocido.' ELSE '' END",
            "payment_type": "CASE WHEN NOT c.known THEN '' WHEN m.debit THEN 'DEBIT' "
            "ELSE 'CREDIT' END",
            "acquirer": f"CASE WHEN c.known THEN ({_SQL_ACQUIRERS})[p.b] ELSE '' END",
            "card_brand": "CASE WHEN c.known THEN m.brand ELSE '' END",
            "card_brand_code": f"CASE WHEN c.known THEN ({_SQL_CODES})[p.b] ELSE '' END",
            "entry_mode": "CASE WHEN NOT c.known THEN '' WHEN p.r_mode < 0.25 THEN 'CHIP' "
            "WHEN p.r_mode < 0.75 THEN 'CONTACTLESS' ELSE 'SWIPE' END",
            "card_bin": "CASE WHEN c.known THEN p.bin ELSE '' END",
            "card_last_four": "CASE WHEN c.known THEN p.last4 ELSE '' END",
            "authorized_amount": f"CASE WHEN {approved} THEN p.amount END",
            "authorization_code": f"CASE WHEN {approved} THEN p.auth ELSE '' END",
            "ticket_number": f"CASE WHEN {approved} THEN p.ticket::text ELSE '' END",
            "batch_number": f"CASE WHEN {approved} THEN p.batch END",
            "response_code": f"CASE WHEN {approved} THEN '00' WHEN c.known THEN '05' ELSE '' END",
            "response_message": f"CASE WHEN {approved} THEN 'APROBADA' WHEN p.state = 'declined' "
            "THEN 'RECHAZADA' WHEN p.state = 'failed' THEN 'ERROR' ELSE '' END",
            "client_receipt": f"CASE WHEN {approved} THEN {client_copy} ELSE '' END",
            "merchant_receipt": f"CASE WHEN {approved} THEN {merchant_copy} ELSE '' END",
        },
        payments,
        params,
    )
    # Reversals (~3 %, not AMEX) and refunds (~2 %) of approved payments, later the same day.
    followups = f"""
        FROM (
          SELECT o.*, random() AS r_kind, random() AS r_time, random() AS r_ok,
                 random() AS r_amount, random() AS r_fin
          FROM transactions_intent o
          WHERE o.store_id = ANY(%(stores)s) AND o.kind = 'payment' AND o.state = 'approved'
            AND o.business_day BETWEEN %(first)s AND %(last)s
          OFFSET 0
        ) o,
        LATERAL (SELECT CASE WHEN o.r_kind < 0.03 AND o.card_brand_code <> 'AM' THEN 'reversal'
                             WHEN o.r_kind < 0.05 THEN 'refund' END AS kind,
                        o.r_ok < 0.95 AS ok,
                        least(o.finished_at + interval '3 minutes',
                              {_local("o.business_day", "21.8 * 3600")}) AS start,
                        {_local("o.business_day", "21.9 * 3600")} AS stop) k,
        LATERAL (SELECT k.start + (k.stop - k.start) * o.r_time AS created,
                        CASE WHEN k.kind = 'refund'
                             THEN round(o.amount * (20 + floor(o.r_amount * 81))::numeric / 100, 2)
                             WHEN o.r_amount < 0.5 THEN o.amount END AS amount) f,
        LATERAL (SELECT f.created + make_interval(secs => 10 + o.r_fin * 30) AS finished) e
        WHERE k.kind IS NOT NULL
    """
    counts.intents += _insert_intents(
        cursor,
        {
            "kind": "k.kind",
            "state": "CASE WHEN k.ok THEN 'approved' ELSE 'declined' END",
            "store_id": "o.store_id",
            "credential_id": "o.credential_id",
            "terminal_id": "o.terminal_id",
            "original_id": "o.id",
            "amount": "f.amount",
            "authorized_amount": "CASE WHEN k.ok THEN coalesce(f.amount, o.amount) END",
            "created_at": "f.created",
            "sent_at": "f.created + interval '300 milliseconds'",
            "taken_at": "f.created + interval '5 seconds'",
            "finished_at": "e.finished",
            "updated_at": "e.finished",
            "card_brand": "o.card_brand",
            "card_brand_code": "o.card_brand_code",
            "card_last_four": "o.card_last_four",
            "payment_type": "o.payment_type",
            "batch_number": "o.batch_number",
            "provider_id": "md5(random()::text)",
            "provider_status": "CASE WHEN k.kind = 'reversal' THEN CASE WHEN k.ok THEN "
            "'REVERSED' ELSE 'REVERSAL_DECLINED' END WHEN k.ok THEN 'CONFIRMED' "
            "ELSE 'DECLINED' END",
            "provider_status_at": "e.finished",
            "transacted_at": "e.finished",
            "business_day": "(e.finished AT TIME ZONE %(tz)s)::date",
            "ecr_transaction_id": "md5(random()::text)",
        },
        followups,
        params,
    )
    # The close of each terminal-day, and its Batch row with the portal's totals.
    settlements = f"""
        FROM (
          SELECT t.id, t.store_id, d::date AS day, random() AS r_time, random() AS r_fin
          FROM stores_terminal t,
               generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
          WHERE t.store_id = ANY(%(stores)s)
          OFFSET 0
        ) t,
        LATERAL (SELECT {_local("t.day", "22 * 3600 + t.r_time * 180")} AS created) c,
        LATERAL (SELECT c.created + make_interval(secs => 20 + t.r_fin * 70) AS finished) e
    """
    counts.intents += _insert_intents(
        cursor,
        {
            "kind": "'settlement'",
            "state": "'approved'",
            "store_id": "t.store_id",
            "credential_id": "%(credential)s",
            "terminal_id": "t.id",
            "batch_number": "100 + (t.day - %(origin)s::date)",
            "created_at": "c.created",
            "sent_at": "c.created + interval '300 milliseconds'",
            "taken_at": "c.created + interval '5 seconds'",
            "finished_at": "e.finished",
            "updated_at": "e.finished",
            "provider_id": "md5(random()::text)",
            "provider_status": "'CONFIRMED'",
            "provider_status_at": "e.finished",
            "transacted_at": "e.finished",
            "business_day": "(e.finished AT TIME ZONE %(tz)s)::date",
            "ecr_transaction_id": "md5(random()::text)",
        },
        settlements,
        params,
    )
    cursor.execute(
        """
        INSERT INTO transactions_batch (public_id, terminal_id, batch_number, settlement_id,
                                        closed_at, closing_ticket, totals, verdict, differences)
        SELECT gen_random_uuid(), s.terminal_id, s.batch_number, s.id, s.finished_at,
               'CIERRE DE LOTE ' || s.batch_number || E'\nTERMINAL ' || s.terminal_id,
               jsonb_build_object(
                 'gross', coalesce(a.gross, 0)::text,
                 'reversals', jsonb_build_object('count', coalesce(a.rev_n, 0),
                                                 'amount', coalesce(a.rev, 0)::text),
                 'refunds', jsonb_build_object('count', coalesce(a.ref_n, 0),
                                               'amount', coalesce(a.ref, 0)::text),
                 'net', (coalesce(a.gross, 0) - coalesce(a.rev, 0) - coalesce(a.ref, 0))::text),
               'matched', '[]'::jsonb
        FROM transactions_intent s
        LEFT JOIN (
          SELECT terminal_id, batch_number,
                 sum(amount) FILTER (WHERE kind = 'payment') AS gross,
                 count(*) FILTER (WHERE kind = 'reversal') AS rev_n,
                 sum(authorized_amount) FILTER (WHERE kind = 'reversal') AS rev,
                 count(*) FILTER (WHERE kind = 'refund') AS ref_n,
                 sum(authorized_amount) FILTER (WHERE kind = 'refund') AS ref
          FROM transactions_intent
          WHERE store_id = ANY(%(stores)s) AND state = 'approved'
            AND kind IN ('payment', 'reversal', 'refund')
            AND business_day BETWEEN %(first)s AND %(last)s
          GROUP BY 1, 2
        ) a ON a.terminal_id = s.terminal_id AND a.batch_number = s.batch_number
        WHERE s.store_id = ANY(%(stores)s) AND s.kind = 'settlement'
          AND s.business_day BETWEEN %(first)s AND %(last)s
        """,
        params,
    )
    counts.batches += cursor.rowcount
    return counts


def seed_sql(seeder, stores, days: list[dt.date], per_terminal: int, chunk: int = 31):
    """Seeds `days` (oldest first) of every terminal of `stores` on the PostgreSQL server (see
    above); prints its progress. Returns the counts and the seconds it took (load and index
    build apart)."""
    from django.db import connection, transaction

    table = "transactions_intent"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # The secondary indexes (not the primary key or a unique constraint's): their
        # definitions are read back from the catalogue, so the rebuild is exactly `migrate`'s.
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = %s AND NOT EXISTS (
              SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)
            """,
            [table],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    counts = Counts()
    for start in range(0, len(days), chunk):
        part = days[start : start + chunk]
        with transaction.atomic(), connection.cursor() as cursor:
            # Every reference a seeded row makes is to a row seeded before it, in this database.
            cursor.execute("SET LOCAL session_replication_role = replica")
            counts.add(
                _sql_chunk(
                    cursor,
                    stores=stores,
                    credential_id=seeder.credential.pk,
                    first_day=seeder.first_day,
                    days=part,
                    per_terminal=per_terminal,
                )
            )
        elapsed = time.perf_counter() - started
        print(f"  seeded {part[0]}..{part[-1]}: {counts.intents} intents so far ({elapsed:.0f} s)")
    loaded = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
    print(
        f"  load {loaded - started:.0f} s, {len(indexes)} indexes rebuilt in "
        f"{time.perf_counter() - loaded:.0f} s"
    )
    return counts, time.perf_counter() - started


def analyze() -> None:
    """What autovacuum does after a load: fresh planner statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


# --- Measuring ----------------------------------------------------------------------------------


@dataclass
class Page:
    key: str
    label: str
    url: str
    headers: dict = field(default_factory=dict)


@dataclass
class Timing:
    times: list[float] = field(default_factory=list)
    queries: int | None = None
    status: int = 0
    cut: bool = False  # slower than SLOW_ONCE_S once: not repeated

    @property
    def p50(self) -> float:
        return statistics.median(self.times) * 1000 if self.times else float("nan")

    @property
    def p95(self) -> float:
        if not self.times:
            return float("nan")
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


class PageTimeout(Exception):
    """A page ran past SLOW_ONCE_S: its next statement is not run."""


_deadline = [float("inf")]
_guarded = [None]


def _guard(execute, sql, params, many, context):
    """Bounds one request: no statement starts after the deadline, and the database cancels
    a running one (PostgreSQL statement_timeout, SQLite progress handler)."""
    if time.monotonic() > _deadline[0]:
        raise PageTimeout(sql[:60])
    conn = context["connection"]
    raw = conn.connection
    if raw is not _guarded[0]:
        if conn.vendor == "postgresql":
            with raw.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(SLOW_ONCE_S * 1000)}")
        elif conn.vendor == "sqlite":
            raw.set_progress_handler(lambda: int(time.monotonic() > _deadline[0]), 100_000)
        _guarded[0] = raw
    return execute(sql, params, many, context)


def _get(client, page: Page) -> tuple[float, int]:
    """One request, read to the end; status 0 when it was cut at SLOW_ONCE_S."""
    from django.db import close_old_connections, connection

    started = time.perf_counter()
    _deadline[0] = time.monotonic() + SLOW_ONCE_S
    try:
        with connection.execute_wrapper(_guard):
            response = client.get(page.url, secure=True, **page.headers)
            if response.streaming:
                for _chunk in response.streaming_content:
                    pass
            else:
                _ = response.content
            status = response.status_code
    except Exception as exc:  # a cut page, or a failure to report
        status = 0 if time.perf_counter() - started >= SLOW_ONCE_S * 0.99 else 500
        if status:
            print(f"  {page.key}: {type(exc).__name__}: {str(exc)[:200]}")
        close_old_connections()
    finally:
        _deadline[0] = float("inf")
    return time.perf_counter() - started, status


def measure_page(client, page: Page, reps: int) -> Timing:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = Timing()
    with CaptureQueriesContext(connection) as captured:
        first, timing.status = _get(client, page)
    timing.queries = len(captured) if timing.status else None
    if first > SLOW_ONCE_S or timing.status == 0:
        timing.times, timing.cut = [first], True
        return timing
    if first > 1.0:  # slow pages: the first run counts (no time for a warm-up)
        timing.times.append(first)
    started = time.perf_counter()
    while len(timing.times) < reps:
        if len(timing.times) >= 3 and time.perf_counter() - started > PAGE_BUDGET_S:
            break
        elapsed, status = _get(client, page)
        timing.times.append(elapsed)
        if status == 0:
            timing.cut = True
            break
        timing.status = status if status != 200 else timing.status
    return timing


def count_queries(client, page: Page) -> int | None:
    """Statements of one request (None when it was cut: a partial count says nothing)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        _elapsed, status = _get(client, page)
    return len(captured) if status else None


def time_call(function, reps: int, budget: float = 30.0) -> list[float]:
    times = []
    started = time.perf_counter()
    while len(times) < reps:
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
        if times[-1] > SLOW_ONCE_S or (len(times) >= 3 and time.perf_counter() - started > budget):
            break
    return times


def build_pages(seeder: Seeder, store, latest: dt.date) -> list[Page]:
    from django.urls import reverse

    from transactions.models import Batch, Intent
    from transactions.states import Kind, State

    terminal = store.terminals.order_by("pk").first()
    payment = (
        Intent.objects.filter(
            terminal=terminal, kind=Kind.PAYMENT, state=State.APPROVED, followups__isnull=True
        )
        .order_by("-created_at")
        .first()
    )
    batch = Batch.objects.filter(terminal=terminal).order_by("-closed_at").first()
    day = latest.isoformat()
    r = reverse
    htmx = {"HTTP_HX_REQUEST": "true"}
    return [
        Page("hoy", "Hoy", r("dashboard:home")),
        Page(
            "terminal", "terminal page", r("dashboard:terminal_detail", args=[terminal.public_id])
        ),
        Page(
            "live",
            "terminal live box",
            r("dashboard:terminal_live", args=[terminal.public_id]),
            htmx,
        ),
        Page("intents1", "intents list p1", r("dashboard:intent_list")),
        Page("intents100", "intents list p100", r("dashboard:intent_list") + "?page=100"),
        Page("intent", "intent detail", r("dashboard:intent_detail", args=[payment.public_id])),
        Page("batches", "batches list", r("dashboard:batch_index")),
        Page("batch", "batch detail", r("dashboard:batch_detail", args=[batch.public_id])),
        Page("report", "daily report", r("dashboard:daily_report") + f"?fecha={day}"),
        Page("homolog", "homologation", r("dashboard:homologation")),
        Page("settings", "settings", r("dashboard:settings")),
        Page(
            "intents_csv",
            "export intents CSV (day)",
            r("dashboard:intent_export_csv") + f"?date_from={day}&date_to={day}",
        ),
        Page("report_csv", "export report CSV", r("dashboard:daily_report_csv") + f"?fecha={day}"),
        Page(
            "report_ops_csv",
            "export operations CSV (merchant-day)",
            r("dashboard:daily_report_operations_csv") + f"?fecha={day}",
        ),
        Page(
            "report_xlsx",
            "export report XLSX (store)",
            r("dashboard:daily_report_xlsx") + f"?fecha={day}&sucursal={store.public_id}",
        ),
    ]


def logged_in_client(user):
    from django.test import Client

    client = Client(HTTP_HOST=HOST)
    client.force_login(user)
    return client


# --- Report vs hand-written SQL --------------------------------------------------------------


def _cents(value) -> Decimal:
    """A SUM as money: SQLite sums decimals as floats."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _sql_totals(stores, day: dt.date) -> dict:
    """One GROUP BY with the report's day rule (the indexed business day: the store-local day of
    the provider's transaction time) and amount rule (authorized, else asked, else the
    payment's), and a follow-up under its payment's card: {(store, kind, state): [count,
    amount]}."""
    from django.db import connection

    from transactions.models import Intent

    table = connection.ops.quote_name(Intent._meta.db_table)
    marks = ", ".join(["%s"] * len(stores))
    sql = f"""
        SELECT i.store_id, i.kind, i.state,
               UPPER(TRIM(COALESCE(o.card_brand, i.card_brand))),
               COALESCE(o.card_brand_code, i.card_brand_code),
               UPPER(COALESCE(o.payment_type, i.payment_type)),
               COALESCE(o.installments, i.installments), COUNT(*),
               SUM(COALESCE(i.authorized_amount, i.amount, o.authorized_amount, o.amount))
        FROM {table} i LEFT JOIN {table} o ON o.id = i.original_id
        WHERE i.store_id IN ({marks}) AND i.business_day = %s
          AND i.kind IN ('payment', 'reversal', 'refund')
          AND i.state IN ('approved', 'declined', 'failed', 'cancelled')
        GROUP BY 1, 2, 3, 4, 5, 6, 7
    """
    totals: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [s.pk for s in stores] + [day])
        for store_id, kind, state, _b, _c, _p, _i, n, amount in cursor.fetchall():
            entry = totals.setdefault((store_id, kind, state), [0, Decimal("0")])
            entry[0] += n
            entry[1] += _cents(amount)
    return totals


def _sql_month(stores, first: dt.date, last: dt.date) -> dict:
    """A range of business days in one grouped SQL: {(store, day): approved payments amount}."""
    from django.db import connection

    from transactions.models import Intent

    table = connection.ops.quote_name(Intent._meta.db_table)
    marks = ", ".join(["%s"] * len(stores))
    sql = f"""
        SELECT i.store_id, i.business_day, i.kind, i.state, COUNT(*),
               SUM(COALESCE(i.authorized_amount, i.amount, o.authorized_amount, o.amount))
        FROM {table} i LEFT JOIN {table} o ON o.id = i.original_id
        WHERE i.store_id IN ({marks}) AND i.kind IN ('payment', 'reversal', 'refund')
          AND i.state IN ('approved', 'declined', 'failed', 'cancelled')
          AND i.business_day >= %s AND i.business_day <= %s
        GROUP BY 1, 2, 3, 4
    """
    out: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [s.pk for s in stores] + [first, last])
        for store_id, day, kind, state, _n, amount in cursor.fetchall():
            if kind == "payment" and state == "approved":
                out[(store_id, str(day))] = _cents(amount)
    return out


def report_vs_sql(stores, latest: dt.date, days: int, reps: int) -> dict:
    from transactions.reporting import daily as reports
    from transactions.states import Kind, State

    report = reports.daily_report(stores=stores, day=latest)
    sql = _sql_totals(stores, latest)
    same = True
    for section in report.stores:
        t, pk = section.totals, section.store.pk
        pairs = [
            ((Kind.PAYMENT, State.APPROVED), (t.approved_count, t.approved_amount)),
            ((Kind.REVERSAL, State.APPROVED), (t.reversal_count, t.reversal_amount)),
            ((Kind.REFUND, State.APPROVED), (t.refund_count, t.refund_amount)),
            ((Kind.PAYMENT, State.DECLINED), (t.declined_count, None)),
        ]
        for (kind, state), (count, amount) in pairs:
            got = sql.get((pk, kind, state), [0, Decimal("0")])
            if got[0] != count or (amount is not None and got[1] != amount):
                print(f"  differs: store {pk} {kind}/{state}: report {count} {amount}, SQL {got}")
                same = False
    report_times = time_call(lambda: reports.daily_report(stores=stores, day=latest), reps)
    sql_times = time_call(lambda: _sql_totals(stores, latest), reps)
    # One store's day (the store-day goal), the same way.
    one = stores[:1]
    store_report_times = time_call(lambda: reports.daily_report(stores=one, day=latest), reps)
    store_sql_times = time_call(lambda: _sql_totals(one, latest), reps)

    # A month: the portal's range totals (one grouped query, `reporting.totals.range_totals`)
    # vs one hand-written grouped SQL over the range.
    from transactions.reporting.totals import range_totals

    first = latest - dt.timedelta(days=days - 1)
    month_days = [first + dt.timedelta(days=k) for k in range(days)]

    def month_totals():
        # As the period workbook asks for them: each day's outcomes per store.
        return range_totals(stores=stores, first=first, last=latest, breakdowns=False)

    month_report_times = time_call(month_totals, 3)
    per_day = month_totals()
    month_sql_times = time_call(lambda: _sql_month(stores, first, latest), 3)
    by_day = _sql_month(stores, first, latest)
    month_same = all(
        by_day.get((s.pk, str(d)), Decimal("0")) == per_day[d][0][s.pk].approved_amount
        for d in month_days
        for s in stores
    )
    return {
        "same": same,
        "report_ms": statistics.median(report_times) * 1000,
        "sql_ms": statistics.median(sql_times) * 1000,
        "store_report_ms": statistics.median(store_report_times) * 1000,
        "store_sql_ms": statistics.median(store_sql_times) * 1000,
        "month_same": month_same,
        "month_report_ms": statistics.median(month_report_times) * 1000,
        "month_sql_ms": statistics.median(month_sql_times) * 1000,
    }


# --- XLSX in a fresh process: time and peak RSS ----------------------------------------------


def _peak_rss_kb() -> int:
    """This process's peak RSS. Linux's ru_maxrss of a spawned child starts at its parent's
    peak (kept across exec), so the kernel's per-process VmHWM is read where it exists."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def xlsx_probe(spec: str) -> int:
    """Child mode: warm up, then GET one XLSX and print its time and the process's RSS."""
    setup_django()
    from django.contrib.auth import get_user_model

    global SLOW_ONCE_S
    data = json.loads(spec)
    SLOW_ONCE_S = data.get("timeout", SLOW_ONCE_S)
    client = logged_in_client(get_user_model().objects.get(pk=data["user"]))
    _get(client, Page("warm", "warm", data["warm"]))
    before = _peak_rss_kb()
    elapsed, status = _get(client, Page("xlsx", "xlsx", data["url"]))
    peak = _peak_rss_kb()
    print(
        json.dumps(
            {"s": elapsed, "status": status, "rss0_mb": before / 1024, "rss_mb": peak / 1024}
        )
    )
    return 0


def run_probe(user, url: str, warm: str) -> dict:
    spec = json.dumps({"user": user.pk, "url": url, "warm": warm, "timeout": SLOW_ONCE_S})
    out = subprocess.run(
        [sys.executable, __file__, "--xlsx-probe", spec],
        env=os.environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=max(600, SLOW_ONCE_S * 2),
        check=False,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- Main ---------------------------------------------------------------------------------------


def _seed_days(seeder, stores, days, per_terminal) -> tuple[Counts, float]:
    counts = Counts()
    started = time.perf_counter()
    for day in days:
        counts.add(seeder.seed_day(stores, day, per_terminal))
    return counts, time.perf_counter() - started


def _q(count: int | None) -> str:
    return "cut" if count is None else str(count)


def _fmt(value: float) -> str:
    return "-" if value != value else (f"{value:.0f}" if value >= 100 else f"{value:.1f}")


def main() -> int:
    global SLOW_ONCE_S
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=None, help="payments in all (~)")
    parser.add_argument("--stores", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--reps", type=int, default=15, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--db-name", default=BENCH_DB, help="PostgreSQL database to create and drop (own runs)"
    )
    parser.add_argument(
        "--page-timeout", type=float, default=SLOW_ONCE_S, help="s; a page this slow is cut"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="seed the whole history at once and measure only the report, its exports and "
        "the report-vs-SQL comparison (a quick iteration on issue 10's report goals)",
    )
    parser.add_argument(
        "--year",
        action="store_true",
        help="a merchant-year on PostgreSQL: --days 365, 200 payments per terminal-day unless "
        "--intents, generated by the server (`seed_sql`), then the --report-only measurements",
    )
    parser.add_argument("--xlsx-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.xlsx_probe:
        return xlsx_probe(args.xlsx_probe)
    SLOW_ONCE_S = args.page_timeout
    if args.year:
        if not os.environ.get("DATABASE_URL"):
            parser.error("--year needs PostgreSQL (DATABASE_URL): its rows are generated there")
        args.days, args.report_only = 365, True
        if args.intents is None:
            args.intents = 200 * args.stores * TERMINALS_PER_STORE * args.days
        if args.db_name == BENCH_DB:
            args.db_name = BENCH_DB + "_year"

    terminals = args.stores * TERMINALS_PER_STORE
    per_terminal = (
        300 if args.intents is None else max(1, round(args.intents / (terminals * args.days)))
    )
    tmp = Path(tempfile.mkdtemp(prefix="ecr-bench-scale-"))
    configure_environment(tmp)
    drop = None
    if os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"], drop = _postgres_database(args.keep, args.db_name)
        where = f"PostgreSQL, database {args.db_name}"
    else:
        os.environ["SQLITE_PATH"] = str(tmp / "portal.sqlite3")
        where = f"SQLite {os.environ['SQLITE_PATH']}"
    try:
        return _run(args, per_terminal, where)
    finally:
        if drop is not None:
            with contextlib.suppress(Exception):
                drop()
        if args.keep:
            print(f"kept: {where} (static files in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(args, per_terminal: int, where: str) -> int:
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from transactions.models import GatewayCall, Intent, IntentEvent

    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    max_age = connection.settings_dict["CONN_MAX_AGE"]
    print(f"database: {where}; DEBUG={settings.DEBUG} CONN_MAX_AGE={max_age} cache={cache}")
    t0 = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"migrate + collectstatic: {time.perf_counter() - t0:.1f} s")

    latest = timezone.localdate()
    first = latest - dt.timedelta(days=args.days - 1)
    seeder = Seeder(first_day=first)
    stores = seeder.add_stores(args.stores, prefix="sucursal", terminals=TERMINALS_PER_STORE)
    print(
        f"size: {args.stores} stores x {TERMINALS_PER_STORE} terminals x {args.days} days x "
        f"{per_terminal} payments, latest day {latest} (America/Argentina/Buenos_Aires)"
    )

    if args.report_only:
        return _run_report_only(args, seeder, stores, latest, per_terminal, where)

    # 1. One day of history.
    day_counts, day_seconds = _seed_days(seeder, stores, [latest], per_terminal)
    analyze()
    print(f"seeded the latest day: {day_counts.intents} intents in {day_seconds:.1f} s")
    client = logged_in_client(seeder.owner)
    pages = build_pages(seeder, stores[0], latest)
    for page in pages:  # the process's first requests load what every later one reuses
        _get(client, page)
    gc.collect()
    day = {p.key: measure_page(client, p, args.reps) for p in pages}

    # 2. Query counts at 10 and at 100 stores (extra stores: one terminal, a few sales today).
    extra: list = []
    by_stores: dict[int, dict[str, int]] = {}
    for target in (10, 100):
        missing = max(0, target - len(stores) - len(extra))
        new = seeder.add_stores(missing, prefix=f"extra{target}", terminals=1)
        for store in new:
            seeder.seed_day([store], latest, 3, full_day=False)
        extra += new
        by_stores[target] = {p.key: count_queries(client, p) for p in pages}
    GatewayCall.objects.filter(intent__store__in=extra).delete()
    Intent.objects.filter(store__in=extra).delete()
    for store in extra:
        store.terminals.all().delete()
        store.delete()

    # 3. The rest of the history.
    rest = [first + dt.timedelta(days=k) for k in range(args.days - 1)]
    rest_counts, rest_seconds = _seed_days(seeder, stores, rest, per_terminal)
    t0 = time.perf_counter()
    analyze()
    analyze_seconds = time.perf_counter() - t0
    total = Counts()
    total.add(day_counts)
    total.add(rest_counts)
    seed_seconds = day_seconds + rest_seconds
    print(
        f"seeded the full history: {Intent.objects.count()} intents, "
        f"{IntentEvent.objects.count()} events, {GatewayCall.objects.count()} provider calls, "
        f"{total.offers} offers, {total.batches} batches in {seed_seconds:.1f} s "
        f"({total.intents / seed_seconds:.0f} intents/s; analyze {analyze_seconds:.1f} s)"
    )
    client = logged_in_client(seeder.owner)
    gc.collect()
    full = {p.key: measure_page(client, p, args.reps) for p in pages}

    # 4. Report vs SQL; XLSX in a fresh process.
    versus = report_vs_sql(stores, latest, args.days, args.reps)
    probes = _probes(seeder, stores, latest, args.days)
    return _print(pages, day, full, by_stores, versus, probes, where)


_REPORT_PAGES = ("report", "report_csv", "report_ops_csv", "report_xlsx")


def _probes(seeder, stores, latest: dt.date, days: int) -> dict:
    """The XLSX of a store-day, of the merchant-day and of the merchant period, each in a
    fresh process (time and peak RSS)."""
    from django.urls import reverse

    warm = reverse("dashboard:settings")
    xlsx = reverse("dashboard:daily_report_xlsx") + f"?fecha={latest.isoformat()}"
    first = latest - dt.timedelta(days=min(days, 92) - 1)
    period = reverse("dashboard:period_report_xlsx") + f"?desde={first}&hasta={latest}"
    return {
        "store-day": run_probe(seeder.owner, xlsx + f"&sucursal={stores[0].public_id}", warm),
        "merchant-day": run_probe(seeder.owner, xlsx, warm),
        "merchant-month": run_probe(seeder.owner, period, warm),
    }


def _run_report_only(args, seeder, stores, latest: dt.date, per_terminal: int, where) -> int:
    """The whole history at once, then only the report goals of issue 10 (report and exports
    p95, report vs SQL at a store-day and a merchant-day, a range, the XLSX probes)."""
    from transactions.models import Intent

    days = [latest - dt.timedelta(days=k) for k in range(args.days)]
    if args.year:
        counts, seconds = seed_sql(seeder, stores, sorted(days), per_terminal)
    else:
        counts, seconds = _seed_days(seeder, stores, days, per_terminal)
    analyze()
    print(
        f"seeded {Intent.objects.count()} intents ({counts.intents / seconds:.0f}/s) "
        f"in {seconds:.0f} s"
    )
    client = logged_in_client(seeder.owner)
    pages = [p for p in build_pages(seeder, stores[0], latest) if p.key in _REPORT_PAGES]
    for page in pages:
        _get(client, page)
    gc.collect()
    full = {p.key: measure_page(client, p, args.reps) for p in pages}
    problems = []
    print(f"\nreport pages and exports at {args.days} days ({where}); ms")
    for page in pages:
        timing = full[page.key]
        print(
            f"{page.label:40} p50 {_fmt(timing.p50):>6} p95 {_fmt(timing.p95):>6} "
            f"q {_q(timing.queries):>3} HTTP {timing.status}"
        )
        if timing.status != 200:
            problems.append(f"{page.key} HTTP {timing.status}")
        elif page.key != "report_xlsx" and timing.p95 > GOAL_P95_MS:
            problems.append(f"{page.key} p95")
    versus = report_vs_sql(stores, latest, min(args.days, 31), args.reps)
    probes = _probes(seeder, stores, latest, args.days)
    problems += _print_report_goals(versus, probes)
    if problems:
        print(f"scale: FAILED ({'; '.join(problems)})")
        return 1
    print("scale: OK")
    return 0


def _print_report_goals(versus: dict, probes: dict) -> list[str]:
    """Prints the report-vs-SQL ratios and the XLSX probes; returns what missed its goal."""
    problems = []
    print()
    for label, report_ms, sql_ms in (
        ("store-day", versus["store_report_ms"], versus["store_sql_ms"]),
        ("merchant-day (all stores)", versus["report_ms"], versus["sql_ms"]),
        ("a month of daily totals", versus["month_report_ms"], versus["month_sql_ms"]),
    ):
        ratio = report_ms / sql_ms
        print(
            f"report {label}: {report_ms:.1f} ms vs hand-written SQL GROUP BY {sql_ms:.1f} ms "
            f"= {ratio:.2f}x (goal <= {GOAL_REPORT_VS_SQL}x)"
        )
        if ratio > GOAL_REPORT_VS_SQL:
            problems.append(f"report/sql {label} {ratio:.1f}x")
    same = versus["same"] and versus["month_same"]
    print(f"same totals as the SQL: {'yes' if same else 'NO'}")
    if not same:
        problems.append("totals")
    for label, probe in probes.items():
        if "error" in probe or probe.get("status") != 200:
            print(f"XLSX {label}: failed ({probe.get('error') or probe.get('status')})")
            problems.append(f"xlsx {label}")
            continue
        print(
            f"XLSX {label} (fresh process): {probe['s'] * 1000:.0f} ms, peak RSS "
            f"{probe['rss_mb']:.0f} MB (after warm-up {probe['rss0_mb']:.0f} MB, "
            f"growth {probe['rss_mb'] - probe['rss0_mb']:.0f} MB)"
        )
    if probes["store-day"].get("s", 0) > GOAL_XLSX_S:
        problems.append(f"xlsx store-day {probes['store-day']['s']:.1f}s")
    month = probes["merchant-month"]
    if "rss_mb" in month and month["rss_mb"] - month["rss0_mb"] > GOAL_MONTH_RSS_MB:
        problems.append("xlsx merchant-month memory")
    return problems


def _print(pages, day, full, by_stores, versus, probes, where) -> int:
    problems: dict[str, list[str]] = {}

    def fail(what: str, key: str) -> None:
        problems.setdefault(what, []).append(key)

    print()
    print(f"pages ({where}); times in ms, ratio = full p50 / day p50; q = queries per request")
    print(
        f"{'page':28} {'day p50':>8} {'day p95':>8} {'full p50':>9} {'full p95':>9} {'n':>3} "
        f"{'ratio':>6} {'q day':>6} {'q full':>6} {'q 10st':>6} {'q 100st':>7}"
    )
    for page in pages:
        d, f = day[page.key], full[page.key]
        ratio = f.p50 / d.p50 if d.times and f.times else float("nan")
        q10, q100 = by_stores[10][page.key], by_stores[100][page.key]
        flags = []
        if (d.status != 200 and not d.cut) or (f.status != 200 and not f.cut):
            fail("status", page.key)
            flags.append(f"HTTP {d.status}/{f.status}")
        if f.cut:
            flags.append(f"cut at {SLOW_ONCE_S:g} s, not repeated")
        if not ratio <= GOAL_RATIO:
            fail("ratio", page.key)
        if not f.p95 <= GOAL_P95_MS:
            fail("p95", page.key)
        if (d.queries != f.queries and None not in (d.queries, f.queries)) or (
            q10 != q100 and None not in (q10, q100)
        ):
            fail("queries", page.key)
        print(
            f"{page.label:28} {_fmt(d.p50):>8} {_fmt(d.p95):>8} {_fmt(f.p50):>9} "
            f"{_fmt(f.p95):>9} {len(f.times):>3} {ratio:>6.2f} {_q(d.queries):>6} "
            f"{_q(f.queries):>6} {_q(q10):>6} {_q(q100):>7}"
            + (f"  ({', '.join(flags)})" if flags else "")
        )
    report_ratio = versus["report_ms"] / versus["sql_ms"]
    month_ratio = versus["month_report_ms"] / versus["month_sql_ms"]
    print()
    print(
        f"daily report (all stores, one day): {versus['report_ms']:.1f} ms vs hand-written SQL "
        f"GROUP BY {versus['sql_ms']:.1f} ms = {report_ratio:.1f}x (goal <= {GOAL_REPORT_VS_SQL}x; "
        f"same totals: {'yes' if versus['same'] else 'NO'})"
    )
    print(
        f"a month of daily totals: {versus['month_report_ms']:.0f} ms vs one grouped SQL "
        f"{versus['month_sql_ms']:.1f} ms = {month_ratio:.1f}x (goal <= {GOAL_REPORT_VS_SQL}x; "
        f"same totals: {'yes' if versus['month_same'] else 'NO'})"
    )
    store_ratio = versus["store_report_ms"] / versus["store_sql_ms"]
    print(
        f"daily report (one store-day): {versus['store_report_ms']:.1f} ms vs hand-written SQL "
        f"{versus['store_sql_ms']:.1f} ms = {store_ratio:.1f}x (goal <= {GOAL_REPORT_VS_SQL}x)"
    )
    if store_ratio > GOAL_REPORT_VS_SQL:
        fail("report/sql", f"store-day {store_ratio:.1f}x")
    if not versus["same"] or not versus["month_same"]:
        fail("totals", "report")
    if report_ratio > GOAL_REPORT_VS_SQL:
        fail("report/sql", f"{report_ratio:.1f}x")
    if month_ratio > GOAL_REPORT_VS_SQL:
        fail("month/sql", f"{month_ratio:.1f}x")
    for label, probe in probes.items():
        if "error" in probe or probe.get("status") != 200:
            print(f"XLSX {label}: failed ({probe.get('error') or probe.get('status')})")
            fail("xlsx", label)
            continue
        print(
            f"XLSX {label} (fresh process): {probe['s'] * 1000:.0f} ms, peak RSS "
            f"{probe['rss_mb']:.0f} MB (after warm-up {probe['rss0_mb']:.0f} MB)"
        )
    store_xlsx = probes["store-day"]
    if "s" in store_xlsx and store_xlsx["s"] > GOAL_XLSX_S:
        fail("xlsx", f"store-day {store_xlsx['s']:.1f}s")
    # A month is streamed: its peak memory must stay near a day's, not grow with its rows.
    month = probes["merchant-month"]
    if "rss_mb" in month:
        growth = month["rss_mb"] - month["rss0_mb"]
        print(
            f"merchant-month XLSX memory growth: {growth:.0f} MB (goal <= {GOAL_MONTH_RSS_MB} MB)"
        )
        if growth > GOAL_MONTH_RSS_MB:
            fail("xlsx", f"merchant-month +{growth:.0f} MB")
    print(
        f"goals: ratio <= {GOAL_RATIO}, p95 <= {GOAL_P95_MS:.0f} ms, queries constant "
        f"(day = full, 10 = 100 stores), report <= {GOAL_REPORT_VS_SQL}x SQL, "
        f"store-day XLSX <= {GOAL_XLSX_S:.0f} s"
    )
    if problems:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in problems.items())
        print(f"scale: FAILED ({what})")
        return 1
    print("scale: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
