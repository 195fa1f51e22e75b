"""Homologation assistant: each case turns done exactly when its intent exists (and only with a
homologation credential of the merchant), payment ids listed, owners only, the CSV for Prisma,
a query budget that does not grow with the ledger, and the production pilot warning."""

import csv
import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from stores.models import Environment, TerminalPurpose
from stores.roles import Role
from tests import factories
from transactions import homologation
from transactions.models import GatewayCall, Intent
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)
PAGE = reverse("dashboard:homologation")
CSV = reverse("dashboard:homologation_csv")


def make(store, credential, **kw) -> Intent:
    """An intent as the services leave it once final: approved unless told, with a provider id
    shaped like the provider's (a UUID), since the CSV for Prisma lists them."""
    kw.setdefault("state", State.APPROVED)
    kw.setdefault("provider_id", f"pid-{next(_seq):04d}-0000-4000-8000-000000000000")
    return factories.make_intent(store, credential=credential, **kw)


def call(credential, *, status, outcome, operation="payment_read", seconds_later=0, intent=None):
    row = GatewayCall.objects.create(
        credential=credential,
        intent=intent,
        operation=operation,
        method="GET",
        path="/payments/x",
        http_status=status,
        outcome=outcome,
    )
    if seconds_later:
        GatewayCall.objects.filter(pk=row.pk).update(
            created_at=row.created_at + dt.timedelta(seconds=seconds_later)
        )
    return row


def _original(mk, **kw):
    return mk(kind=Kind.PAYMENT, amount=Decimal("1000.00"), **kw)


# code -> (builder of the matching ledger rows, every case those rows make done). The sets spell
# out the overlaps on purpose: e.g. a brand-restricted 1-cuota payment is also a 1-cuota payment.
MATCHES = {
    "pago-1-cuota": (lambda mk, cred: mk(installments=1), {"pago-1-cuota"}),
    "pago-cuotas": (lambda mk, cred: mk(installments=6), {"pago-cuotas"}),
    "pago-rechazado": (lambda mk, cred: mk(state=State.DECLINED), {"pago-rechazado"}),
    "pago-marca": (lambda mk, cred: mk(brand_restriction="VI"), {"pago-marca", "pago-1-cuota"}),
    "pago-qr": (lambda mk, cred: mk(method="qr"), {"pago-qr"}),
    "cancelacion-pago": (
        lambda mk, cred: mk(state=State.CANCELLED, provider_status="UNDONE"),
        {"cancelacion-pago"},
    ),
    "anulacion": (
        lambda mk, cred: mk(kind=Kind.REVERSAL, amount=None, original=_original(mk)),
        {"anulacion", "pago-1-cuota"},
    ),
    "cancelacion-anulacion": (
        lambda mk, cred: mk(
            kind=Kind.REVERSAL, state=State.CANCELLED, amount=None, original=_original(mk)
        ),
        {"cancelacion-anulacion", "pago-1-cuota"},
    ),
    "devolucion-parcial": (
        lambda mk, cred: mk(kind=Kind.REFUND, amount=Decimal("400.00"), original=_original(mk)),
        {"devolucion-parcial", "pago-1-cuota"},
    ),
    "devolucion-total": (
        lambda mk, cred: mk(kind=Kind.REFUND, amount=Decimal("1000.00"), original=_original(mk)),
        {"devolucion-total", "pago-1-cuota"},
    ),
    "devolucion-amex": (
        lambda mk, cred: mk(
            kind=Kind.REFUND,
            amount=Decimal("1000.00"),
            original=_original(mk, acquirer="AMEX", card_brand_code="AM"),
        ),
        {"devolucion-amex", "devolucion-total", "pago-1-cuota"},
    ),
    "cierre-con-ticket": (
        lambda mk, cred: mk(kind=Kind.SETTLEMENT, amount=None, print_receipt=True),
        {"cierre-con-ticket"},
    ),
    "cierre-sin-ticket": (
        lambda mk, cred: mk(kind=Kind.SETTLEMENT, amount=None, print_receipt=False),
        {"cierre-sin-ticket"},
    ),
    "renovacion-token": (
        lambda mk, cred: (
            call(cred, status=401, outcome="retryable", intent=mk(state=State.FAILED)),
            call(cred, status=200, outcome="ok"),
        ),
        {"renovacion-token"},
    ),
}

# code -> the closest ledger rows that must NOT prove the case.
NEAR_MISSES = {
    "pago-1-cuota": lambda mk, cred: (mk(state=State.DECLINED), mk(installments=3)),
    "pago-cuotas": lambda mk, cred: (mk(installments=1), mk(installments=6, state="declined")),
    "pago-rechazado": lambda mk, cred: mk(state=State.FAILED),
    "pago-marca": lambda mk, cred: (mk(), mk(brand_restriction="VI", state=State.DECLINED)),
    "pago-qr": lambda mk, cred: (mk(method="card"), mk(method="qr", state=State.DECLINED)),
    "cancelacion-pago": lambda mk, cred: (
        mk(kind=Kind.REVERSAL, state=State.CANCELLED, amount=None),
        mk(state=State.CANCELLED, provider_id=""),  # never reached Prisma: no payment_id
    ),
    "anulacion": lambda mk, cred: mk(kind=Kind.REVERSAL, state=State.DECLINED, amount=None),
    "cancelacion-anulacion": lambda mk, cred: mk(
        kind=Kind.REVERSAL, state=State.APPROVED, amount=None
    ),
    "devolucion-parcial": lambda mk, cred: (
        mk(kind=Kind.REFUND, amount=Decimal("1000.00"), original=_original(mk)),
        mk(kind=Kind.REFUND, state=State.DECLINED, amount=Decimal("10.00")),
    ),
    "devolucion-total": lambda mk, cred: (
        mk(kind=Kind.REFUND, amount=Decimal("999.99"), original=_original(mk)),
        mk(kind=Kind.REFUND, amount=Decimal("1000.00")),  # no original: nothing to be total of
    ),
    "devolucion-amex": lambda mk, cred: (
        mk(kind=Kind.REFUND, amount=Decimal("1000.00"), original=_original(mk, acquirer="PRISMA")),
        mk(kind=Kind.PAYMENT, acquirer="AMEX", card_brand_code="AM"),
        mk(kind=Kind.REFUND, state=State.DECLINED, brand_restriction="AM"),
    ),
    "cierre-con-ticket": lambda mk, cred: (
        mk(kind=Kind.SETTLEMENT, amount=None, print_receipt=False),
        mk(kind=Kind.SETTLEMENT, amount=None, state=State.FAILED, print_receipt=True),
    ),
    "cierre-sin-ticket": lambda mk, cred: (
        mk(kind=Kind.SETTLEMENT, amount=None, print_receipt=True),
        mk(kind=Kind.SETTLEMENT, amount=None, state=State.DECLINED, print_receipt=False),
    ),
    "renovacion-token": lambda mk, cred: (
        # Renewed token refused again: recorded as an error, no successful replay.
        call(cred, status=401, outcome="retryable"),
        call(cred, status=401, outcome="error"),
        # A success long after a 401 is not its replay; nor is a success of another operation.
        call(cred, status=401, outcome="retryable", operation="settlement_read"),
        call(cred, status=200, outcome="ok", operation="settlement_read", seconds_later=600),
        call(cred, status=200, outcome="ok", operation="liveness"),
    ),
}


def record_all(merchant) -> int:
    """Records, for each case, its newest suggestion no other case uses (as the guided run
    does); returns how many cases got one."""
    from transactions.services.homologation import homologation_evidence_record

    recorded = 0
    statuses = homologation.homologation_status(merchant=merchant)
    # The most constrained cases first (an AMEX refund also fits "devolución total").
    for status in sorted(statuses, key=lambda status: len(status.intents)):
        used = set(homologation.recorded_evidence(merchant).values_list("intent_id", flat=True))
        for intent in status.intents:
            if intent.pk not in used:
                homologation_evidence_record(merchant=merchant, case=status.case, intent=intent)
                recorded += 1
                break
    return recorded


def _done(merchant) -> set[str]:
    """The cases some operation matches (suggested evidence): the rules. A case is *done* only
    once an operation is recorded for it (tests/transactions/test_homologation_kit.py)."""
    return {s.case.code for s in homologation.homologation_status(merchant=merchant) if s.matched}


@pytest.fixture
def mk(store_a, terminal_a, credential):
    def _mk(**kw):
        kw.setdefault("terminal", terminal_a)
        return make(store_a, kw.pop("credential", credential), **kw)

    return _mk


@pytest.fixture
def production_credential(merchant):
    return factories.make_credential(merchants=[merchant], environment=Environment.PRODUCTION)


def test_cases_are_the_fourteen_of_the_contract_and_all_are_tested():
    codes = [case.code for case in homologation.CASES]
    assert len(codes) == 14 == len(set(codes))
    assert set(codes) == set(MATCHES) == set(NEAR_MISSES)


@pytest.mark.parametrize("code", list(MATCHES))
def test_case_is_done_exactly_when_its_intent_exists(merchant, mk, credential, code):
    assert _done(merchant) == set()
    build, expected = MATCHES[code]
    build(mk, credential)
    assert _done(merchant) == expected


@pytest.mark.parametrize("code", list(NEAR_MISSES))
def test_near_miss_does_not_count(merchant, mk, credential, code):
    NEAR_MISSES[code](mk, credential)
    assert code not in _done(merchant)


@pytest.mark.parametrize("code", list(MATCHES))
def test_production_credential_does_not_count(merchant, mk, production_credential, code):
    build, _expected = MATCHES[code]
    build(lambda **kw: mk(credential=production_credential, **kw), production_credential)
    assert _done(merchant) == set()


def test_a_shared_credentials_evidence_counts_for_every_merchant_it_serves(merchant, credential):
    """Homologation belongs to the credential (issue 14 item 1): the second client of a
    preintegrada credential does not start at 0."""
    other_store = factories.make_store()
    credential.merchants.add(other_store.merchant)
    make(other_store, credential, installments=1)
    assert _done(merchant) == {"pago-1-cuota"}
    assert _done(other_store.merchant) == {"pago-1-cuota"}


def test_another_merchants_own_credential_does_not_count(merchant, credential):
    other_store = factories.make_store()
    make(other_store, factories.make_credential(merchants=[other_store.merchant]), installments=1)
    assert _done(merchant) == set()


def test_token_replay_must_follow_within_the_window(merchant, credential):
    call(credential, status=401, outcome="retryable")
    call(credential, status=200, outcome="ok", seconds_later=90)
    assert "renovacion-token" not in _done(merchant)
    call(credential, status=200, outcome="ok", seconds_later=30)
    assert "renovacion-token" in _done(merchant)


def test_a_success_before_the_401_is_not_its_replay(merchant, credential):
    earlier = call(credential, status=200, outcome="ok")
    rejected = call(credential, status=401, outcome="retryable")
    # Same clock reading (coarse clocks, fast calls): only the order of the rows tells them apart.
    GatewayCall.objects.filter(pk=earlier.pk).update(
        created_at=GatewayCall.objects.get(pk=rejected.pk).created_at
    )
    assert "renovacion-token" not in _done(merchant)


def test_evidence_is_the_newest_three_with_their_payment_ids(merchant, mk):
    intents = [mk(installments=1) for _ in range(4)]
    status = next(
        s
        for s in homologation.homologation_status(merchant=merchant)
        if s.case.code == "pago-1-cuota"
    )
    newest_first = [i.provider_id for i in reversed(intents)][:3]
    assert status.payment_ids == newest_first
    assert [i.pk for i in status.intents] == [i.pk for i in reversed(intents)][:3]
    assert status.done_at is None, "suggestions do not make a case done"
    record_all(merchant)
    status = homologation.homologation_status(merchant=merchant)[0]
    assert status.recorded.intent == intents[-1]
    assert status.done_at == intents[-1].finished_at


def test_page_lists_payment_ids_with_links_and_progress(client_for, owner, merchant, mk):
    first = mk(installments=1)
    qr = mk(method="qr")
    mk(kind=Kind.SETTLEMENT, amount=None, print_receipt=False)
    assert "0 de 14" in client_for(owner).get(PAGE).content.decode()
    assert record_all(merchant) == 3
    response = client_for(owner).get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "3 de 14" in body
    for intent in (first, qr):
        assert intent.provider_id in body
        assert reverse("dashboard:intent_detail", args=[intent.public_id]) in body
    assert body.count("Hecho ✓") == 3
    assert body.count(">Pendiente<") == 11
    # The guide names what is missing, not what is done.
    cases = {case.code: case for case in homologation.CASES}
    assert escape(cases["pago-cuotas"].how) in body
    assert escape(cases["pago-qr"].how) not in body


def test_page_when_every_case_is_done(client_for, owner, merchant, mk, credential):
    for build, _expected in MATCHES.values():
        build(mk, credential)
    assert record_all(merchant) == 14
    body = client_for(owner).get(PAGE).content.decode()
    assert "14 de 14" in body
    assert "Todos los casos están hechos" in body


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 200), ("manager_a", 403), ("cashier_a", 403), ("finance", 403), ("outsider", 403)],
)
def test_page_is_for_owners(client_for, request, persona, expected, credential):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert client.get(PAGE).status_code == expected
    assert client.get(CSV).status_code == expected


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 200), ("manager_a", 403), ("cashier_a", 403), ("finance", 403), ("outsider", 404)],
)
def test_merchant_by_uuid(client_for, request, persona, expected, merchant):
    client = client_for(request.getfixturevalue(persona))
    query = {"comercio": str(merchant.public_id)}
    assert client.get(PAGE, query).status_code == expected
    assert client.get(CSV, query).status_code == expected


def test_another_merchant_or_a_bad_uuid_is_404(client_for, owner):
    other = factories.make_merchant()
    client = client_for(owner)
    assert client.get(PAGE, {"comercio": str(other.public_id)}).status_code == 404
    assert client.get(CSV, {"comercio": str(other.public_id)}).status_code == 404
    assert client.get(PAGE, {"comercio": "no-es-un-uuid"}).status_code == 404


def test_owner_of_two_merchants_picks_one(client_for, owner, merchant, mk):
    mk(installments=1)
    record_all(merchant)
    second = factories.make_merchant(legal_name="Zeta Segunda S.A.")
    factories.make_membership(owner, Role.OWNER, merchant=second)
    client = client_for(owner)
    body = client.get(PAGE).content.decode()
    assert 'name="comercio"' in body
    assert str(second.public_id) in body
    assert "1 de 14" in body  # the first merchant by name, with its payment
    body = client.get(PAGE, {"comercio": str(second.public_id)}).content.decode()
    assert "0 de 14" in body
    assert "Zeta Segunda S.A." in body


def test_single_merchant_has_no_selector(client_for, owner, merchant):
    assert 'name="comercio"' not in client_for(owner).get(PAGE).content.decode()


def test_settings_page_links_to_the_assistant(client_for, owner, credential):
    body = client_for(owner).get(reverse("dashboard:settings")).content.decode()
    assert f'href="{PAGE}"' in body


def _csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_csv_has_one_row_per_case_with_the_recorded_payment_id(client_for, owner, merchant, mk):
    mk(installments=1)
    newer = mk(installments=1)
    record_all(merchant)
    response = client_for(owner).get(CSV, {"comercio": str(merchant.public_id)})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="homologacion-')
    rows = _csv_rows(response)
    assert rows[0][:4] == ["N°", "Código", "Caso", "payment_id"]
    assert [r[1] for r in rows[1:]] == [case.code for case in homologation.CASES]
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code["pago-1-cuota"][2:4] == ["Cobro aprobado en 1 cuota", newer.provider_id]
    expected_day = timezone.localtime(newer.finished_at).strftime("%d/%m/%Y")
    assert by_code["pago-1-cuota"][10].startswith(expected_day)
    assert by_code["pago-qr"][3] == "" and by_code["pago-qr"][11] == "Pendiente"


def test_csv_cells_cannot_become_formulas(client_for, owner, merchant, mk):
    mk(installments=1, provider_id="=HYPERLINK(1)")
    record_all(merchant)
    rows = _csv_rows(client_for(owner).get(CSV))
    assert {r[1]: r for r in rows[1:]}["pago-1-cuota"][3] == "'=HYPERLINK(1)"


def _fill(n, mk, credential):
    for i in range(n):
        for build, _expected in MATCHES.values():
            build(mk, credential)
        mk(installments=1 + i % 3, state=[State.APPROVED, State.DECLINED][i % 2])


def test_query_count_does_not_grow_with_the_ledger(
    client_for, owner, merchant, mk, credential, django_assert_max_num_queries
):
    client = client_for(owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(PAGE).status_code == 200
        return len(ctx.captured_queries)

    _fill(5, mk, credential)
    few = count()
    _fill(45, mk, credential)
    many = count()
    assert many == few, f"{few} queries with 5 rows per case, {many} with 50"
    with django_assert_max_num_queries(15):
        homologation.homologation_status(merchant=merchant)
    with django_assert_max_num_queries(25):
        client.get(PAGE)


# --- Production pilot ---------------------------------------------------------------------------


def _to_production(*stores):
    for store in stores:
        store.environment = Environment.PRODUCTION
        store.save(update_fields=["environment"])


def _production_terminals(store, count, **kw):
    """`count` production terminals more in `store`, and the store's fixture terminal made one."""
    store.terminals.update(purpose=TerminalPurpose.PRODUCTION)
    for _ in range(count):
        factories.make_terminal(store, purpose=TerminalPurpose.PRODUCTION, **kw)


def test_pilot_warns_with_two_stores_in_production(client_for, owner, merchant, store_a, store_b):
    _to_production(store_a, store_b)
    pilot = homologation.production_pilot_status(merchant=merchant)
    assert [p.store for p in pilot.stores] == [store_a, store_b]
    assert len(pilot.warnings) == 1
    assert "2 sucursales en producción" in pilot.warnings[0]
    body = client_for(owner).get(PAGE).content.decode()
    assert "2 sucursales en producción" in body


def test_pilot_of_one_store_and_two_terminals_is_fine(merchant, store_a, store_b, terminal_a):
    _production_terminals(store_a, 1)
    _production_terminals(store_a, 1, enabled=False)
    _to_production(store_a)
    pilot = homologation.production_pilot_status(merchant=merchant)
    assert [(p.store, p.enabled_terminals) for p in pilot.stores] == [(store_a, 2)]
    assert pilot.warnings == []


def test_pilot_warns_with_three_terminals(merchant, store_a, terminal_a):
    _production_terminals(store_a, 2)
    _to_production(store_a)
    pilot = homologation.production_pilot_status(merchant=merchant)
    assert pilot.terminal_count == 3
    assert len(pilot.warnings) == 1
    assert "3 terminales" in pilot.warnings[0]


def test_no_pilot_warning_once_every_case_is_done(merchant, store_a, store_b, mk, credential):
    for build, _expected in MATCHES.values():
        build(mk, credential)
    record_all(merchant)
    _to_production(store_a, store_b)
    pilot = homologation.production_pilot_status(merchant=merchant)
    assert pilot.homologation_done
    assert pilot.warnings == []


def test_test_terminals_do_not_count_for_the_pilot_size(merchant, store_a, terminal_a):
    """A production store keeps its test terminals (they never charge there): the pilot's size
    counts production terminals only."""
    _production_terminals(store_a, 1)
    factories.make_terminal(store_a, purpose=TerminalPurpose.TEST)
    factories.make_terminal(store_a, purpose=TerminalPurpose.TEST)
    _to_production(store_a)
    pilot = homologation.production_pilot_status(merchant=merchant)
    assert pilot.terminal_count == 2
    assert pilot.warnings == []


def test_no_pilot_size_warning_once_the_pilot_passed(merchant, store_a, store_b, terminal_a):
    _production_terminals(store_a, 2)
    _to_production(store_a, store_b)
    assert len(homologation.production_pilot_status(merchant=merchant).warnings) == 2
    merchant.pilot_passed_at = timezone.now()
    merchant.save(update_fields=["pilot_passed_at"])
    assert homologation.production_pilot_status(merchant=merchant).warnings == []


# --- What the page costs the database -----------------------------------------------------------


def _captured(merchant) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        homologation.homologation_status(merchant=merchant)
    return [query["sql"] for query in ctx.captured_queries]


def test_the_candidates_are_filtered_by_one_case_not_an_or_of_every_rule(merchant, mk):
    """The union of the cases' rules is one CASE in the WHERE: as an OR of its 13 arms,
    PostgreSQL's planner weighed index paths for every arm, about 100 ms of planning on each
    page view whatever the ledger held (2 ms to run it)."""
    mk()
    (candidates,) = [sql for sql in _captured(merchant) if 'FROM "transactions_intent"' in sql]
    where = candidates.split(" WHERE ", 1)[1]
    assert "CASE WHEN" in where
    # The rules' states appear only inside the CASE: none is an arm of the WHERE itself.
    assert "'declined'" not in where.split("CASE WHEN", 1)[0]
    assert "'declined'" in where.split("CASE WHEN", 1)[1]


def test_the_token_renewals_are_read_through_their_partial_index(merchant, credential, mk):
    """Only 401s are read (`gatewaycall_token_refused`), never every provider call recorded:
    with sequential scans priced out, the plan uses that index (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    for _ in range(20):
        call(credential, status=200, outcome="ok", intent=mk())
    call(credential, status=401, outcome="retryable")
    (renewals,) = [sql for sql in _captured(merchant) if "= 401" in sql]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + renewals)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "gatewaycall_token_refused" in plan, plan
