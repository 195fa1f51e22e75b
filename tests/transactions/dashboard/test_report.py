"""Daily settlement report: the numbers, the day an intent belongs to, batches and what needs a
person, who may see it, what it costs in queries, and the CSV and XLSX exports.

The day of an intent is the store's local day of `finished_at` (approval, decline, ...), or of
`created_at` while it has not finished (in doubt): a payment started at 23:50 and approved at
00:10 belongs to the next day, the day the money moved. Time is frozen at 27/11/2026 15:00 in
Buenos Aires so "today" and "the future" do not depend on when the suite runs.
"""

import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_intent
from transactions.models import Batch
from transactions.reporting import daily
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db

BA = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
DAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=BA)
URL = reverse("dashboard:daily_report")
CSV_URL = reverse("dashboard:daily_report_csv")
XLSX_URL = reverse("dashboard:daily_report_xlsx")


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BA)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def pay(store_a, terminal_a):
    """An approved payment of store A finished at `when` (10:00 of DAY by default)."""

    def _pay(amount="1000.00", *, when=None, store=None, terminal=None, **kw):
        kw.setdefault("payment_type", "CREDIT")
        return make_intent(
            store or store_a,
            terminal=terminal or terminal_a,
            state=State.APPROVED,
            amount=Decimal(amount),
            finished_at=when or at(10),
            **kw,
        )

    return _pay


@pytest.fixture
def day_of_store_a(pay, store_a, terminal_a):
    """A realistic day: payments of three brands, credit and debit, several plans; a reversal,
    a refund, a decline, a failure, a cancellation, and one in doubt."""
    visa = pay("1234.56", card_brand="VISA", installments=1)
    pay("1000.00", card_brand="Visa", installments=3)  # same brand, other spelling
    pay("500.00", card_brand="MASTERCARD", card_brand_code="MC", payment_type="DEBIT")
    pay("2000.00", card_brand="AMEX", card_brand_code="AM", installments=12)
    pay("100.00", card_brand="VISA", installments=18)
    # A reversal row without an amount moves its payment's amount.
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        kind=Kind.REVERSAL,
        original=visa,
        amount=None,
        finished_at=at(11),
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        kind=Kind.REFUND,
        amount=Decimal("200.00"),
        finished_at=at(12),
    )
    # Not approved: counted, never summed into money.
    make_intent(store_a, terminal=terminal_a, state=State.DECLINED, finished_at=at(13))
    make_intent(store_a, terminal=terminal_a, state=State.FAILED, finished_at=at(13))
    make_intent(store_a, terminal=terminal_a, state=State.CANCELLED, finished_at=at(13))
    # A declined reversal moved nothing.
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.DECLINED,
        original=visa,
        finished_at=at(14),
    )
    return visa


def _bucket(buckets, label):
    return next(b for b in buckets if b.label == label)


# --- The numbers -------------------------------------------------------------------------------


def test_totals_split_by_brand_credit_debit_and_cuotas(store_a, day_of_store_a):
    report = daily.daily_report(stores=[store_a], day=DAY)
    totals = report.stores[0].totals

    assert totals.approved_count == 5
    assert totals.approved_amount == Decimal("4834.56")
    assert isinstance(totals.approved_amount, Decimal)
    assert (totals.reversal_count, totals.reversal_amount) == (1, Decimal("1234.56"))
    assert (totals.refund_count, totals.refund_amount) == (1, Decimal("200.00"))
    assert totals.net == Decimal("4834.56") - Decimal("1234.56") - Decimal("200.00")
    assert totals.net == Decimal("3400.00")
    assert (totals.declined_count, totals.failed_count, totals.cancelled_count) == (1, 1, 1)

    brands = {b.brand: (b.count, b.amount) for b in totals.brands}
    assert brands == {
        "VISA": (3, Decimal("2334.56")),
        "AMEX": (1, Decimal("2000.00")),
        "MASTERCARD": (1, Decimal("500.00")),
    }
    assert [b.brand for b in totals.brands] == ["VISA", "AMEX", "MASTERCARD"]  # biggest first

    assert (
        _bucket(totals.payment_types, "Crédito").count,
        _bucket(totals.payment_types, "Crédito").amount,
    ) == (4, Decimal("4334.56"))
    assert _bucket(totals.payment_types, "Débito").amount == Decimal("500.00")

    cuotas = {b.label: (b.count, b.amount) for b in totals.installments}
    assert cuotas == {
        "1 cuota": (2, Decimal("1734.56")),
        "2 a 6 cuotas": (1, Decimal("1000.00")),
        "7 a 12 cuotas": (1, Decimal("2000.00")),
        "13 o más": (1, Decimal("100.00")),
    }
    # The overall of a one-store report is that store.
    assert report.overall.net == totals.net
    assert report.overall.approved_count == totals.approved_count


def test_overall_adds_every_store_and_keeps_stores_apart(store_a, store_b, terminal_b, pay):
    pay("1000.00")
    pay("250.50", store=store_b, terminal=terminal_b, card_brand="CABAL")
    report = daily.daily_report(stores=[store_a, store_b], day=DAY)
    a, b = report.stores
    assert (a.store, a.totals.approved_amount) == (store_a, Decimal("1000.00"))
    assert (b.store, b.totals.approved_amount) == (store_b, Decimal("250.50"))
    assert report.overall.approved_amount == Decimal("1250.50")
    assert {x.brand for x in report.overall.brands} == {"VISA", "CABAL"}


def test_the_day_is_the_local_day_of_finished_at(store_a, pay):
    late = pay("11.00", when=at(23, 30))  # 02:30 UTC of the 28th: still the 27th in BA
    after_midnight = pay("22.00", when=at(0, 30, DAY + dt.timedelta(days=1)))
    # Started on the 26th, approved on the 27th at 00:10: it counts on the 27th.
    started_before = pay("33.00", when=at(0, 10))
    started_before.created_at = at(23, 50, DAY - dt.timedelta(days=1))
    started_before.save(update_fields=["created_at"])
    early_on_26 = pay("44.00", when=at(23, 59, DAY - dt.timedelta(days=1)))

    on_27 = daily.daily_report(stores=[store_a], day=DAY).stores[0].totals
    on_28 = daily.daily_report(stores=[store_a], day=DAY + dt.timedelta(days=1)).stores[0].totals
    on_26 = daily.daily_report(stores=[store_a], day=DAY - dt.timedelta(days=1)).stores[0].totals

    assert on_27.approved_amount == late.amount + started_before.amount == Decimal("44.00")
    assert on_28.approved_amount == after_midnight.amount
    assert on_26.approved_amount == early_on_26.amount


def test_without_a_day_each_store_uses_its_own_today(store_a, store_b, terminal_b, pay):
    # 15:00 in Buenos Aires is already 01:00 of the 28th in Auckland.
    store_b.time_zone = "Pacific/Auckland"
    store_b.save()
    pay("10.00", when=at(9))  # the 27th in BA
    pay("20.00", when=NOW, store=store_b, terminal=terminal_b)  # the 28th in Auckland
    # 07:00 in Buenos Aires is 23:00 of the 27th in Auckland: the day before, there.
    pay("30.00", when=at(7), store=store_b, terminal=terminal_b)
    report = daily.daily_report(stores=[store_a, store_b])
    a, b = report.stores
    assert a.totals.day == DAY and a.totals.approved_amount == Decimal("10.00")
    assert b.totals.day == DAY + dt.timedelta(days=1)
    assert b.totals.approved_amount == Decimal("20.00")


# --- The page ----------------------------------------------------------------------------------


def test_page_shows_money_chart_and_breakdowns(client_for, owner, store_a, day_of_store_a):
    response = client_for(owner).get(URL, {"fecha": "2026-11-27", "sucursal": store_a.public_id})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-day="2026-11-27"' in body
    assert 'data-kpi="approved-amount">$ 4.834,56<' in body
    assert 'data-kpi="net">$ 3.400,00<' in body
    assert 'data-kpi="reversal-amount">$ 1.234,56<' in body
    assert 'data-kpi="declined-count">1 rechazado<' in body
    # The SVG bar of the biggest brand, scaled to its share of the approved amount.
    assert 'data-brand="VISA"' in body and 'width="48.3"' in body
    assert (
        'data-label="13 o más"><td>13 o más</td><td class="num">1</td><td class="num">$ 100,00'
        in body
    )
    assert "Débito" in body
    # One store picked: no "all stores" section, and the exports carry the same selection.
    assert "Todas las sucursales" not in body
    assert f"diario.xlsx?fecha=2026-11-27&amp;sucursal={store_a.public_id}" in body


def test_page_defaults_to_today_for_every_permitted_store(
    client_for, owner, pay, store_b, terminal_b
):
    pay("1000.00")
    pay("500.00", store=store_b, terminal=terminal_b)
    body = client_for(owner).get(URL).content.decode()
    assert 'data-day="2026-11-27"' in body
    assert "Todas las sucursales" in body
    assert "Sucursal A" in body and "Sucursal B" in body
    assert "$ 1.500,00" in body


def _batch(terminal, number, *, verdict, closed_at, **kw):
    settlement = make_intent(
        terminal.store,
        terminal=terminal,
        state=State.APPROVED,
        kind=Kind.SETTLEMENT,
        amount=None,
        batch_number=number,
        finished_at=closed_at,
    )
    return Batch.objects.create(
        terminal=terminal,
        batch_number=number,
        settlement=settlement,
        closed_at=closed_at,
        verdict=verdict,
        totals={
            "brands": {"VISA": {"count": 2, "amount": "2234.56"}},
            "reversals": {"count": 0, "amount": "0.00"},
            "refunds": {"count": 0, "amount": "0.00"},
            "gross": "2234.56",
            "net": "2234.56",
        },
        **kw,
    )


def test_batches_closed_that_day_are_listed_with_verdicts_and_differences(
    client_for, manager_a, store_a, terminal_a
):
    matched = _batch(
        terminal_a,
        7,
        verdict=Batch.Verdict.MATCHED,
        closed_at=at(22),
    )
    mismatch = _batch(
        terminal_a,
        8,
        verdict=Batch.Verdict.MISMATCH,
        closed_at=at(23, 10),
        differences=[
            {
                "line": "MASTERCARD",
                "portal_count": 1,
                "portal_amount": "500.00",
                "ticket_count": 2,
                "ticket_amount": "1500.00",
            }
        ],
    )
    yesterday = _batch(
        terminal_a,
        6,
        verdict=Batch.Verdict.MATCHED,
        closed_at=at(22, day=DAY - dt.timedelta(days=1)),
    )
    # A close the provider confirmed whose Batch row was never written.
    orphan = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        kind=Kind.SETTLEMENT,
        amount=None,
        batch_number=9,
        finished_at=at(23, 40),
    )

    body = client_for(manager_a).get(URL, {"fecha": "2026-11-27"}).content.decode()

    assert reverse("dashboard:batch_detail", args=[matched.public_id]) in body
    assert reverse("dashboard:batch_detail", args=[mismatch.public_id]) in body
    assert reverse("dashboard:batch_detail", args=[yesterday.public_id]) not in body
    assert 'data-verdict="matched">Conciliado<' in body
    assert 'data-verdict="mismatch">Con diferencias<' in body
    assert "<strong>MASTERCARD</strong>: portal 1 · $ 500,00; ticket 2 · $ 1.500,00" in body
    assert "$ 2.234,56" in body
    assert 'data-batch="9"' in body and 'data-verdict="missing">Sin registro de lote<' in body
    assert reverse("dashboard:intent_detail", args=[orphan.public_id]) in body
    lines = daily.daily_report(stores=[store_a], day=DAY).batches
    assert [line.batch_number for line in lines] == [7, 8, 9]


def test_each_store_lists_the_batches_closes_and_doubts_of_its_own_day(
    store_a, store_b, terminal_a, terminal_b, django_assert_num_queries
):
    # Without a day each store's today: 15:00 of the 27th in Buenos Aires is 07:00 of the 28th
    # in Auckland. The batches, the close without its Batch row and the attention list are
    # read per store's own local day, as the totals are.
    store_b.time_zone = "Pacific/Auckland"
    store_b.save()
    auckland = zoneinfo.ZoneInfo("Pacific/Auckland")

    def in_auckland(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2026, 11, day, hour, minute, tzinfo=auckland)

    _batch(terminal_a, 7, verdict=Batch.Verdict.MATCHED, closed_at=at(11))
    _batch(terminal_b, 3, verdict=Batch.Verdict.MATCHED, closed_at=in_auckland(28, 6))
    # 23:00 of the 27th in Auckland is 07:00 of the 27th in Buenos Aires: B's yesterday.
    _batch(terminal_b, 2, verdict=Batch.Verdict.MATCHED, closed_at=in_auckland(27, 23))
    orphan = make_intent(
        store_b,
        terminal=terminal_b,
        state=State.APPROVED,
        kind=Kind.SETTLEMENT,
        amount=None,
        batch_number=4,
        finished_at=in_auckland(28, 6, 30),
    )
    a_doubt = make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    b_doubt = make_intent(store_b, terminal=terminal_b, state=State.IN_DOUBT)
    b_old_doubt = make_intent(store_b, terminal=terminal_b, state=State.IN_DOUBT)
    b_old_doubt.created_at = in_auckland(27, 23, 30)
    b_old_doubt.save(update_fields=["created_at"])

    a, b = daily.daily_report(stores=[store_a, store_b]).stores

    assert [(line.batch_number, line.batch is not None) for line in a.batches] == [(7, True)]
    assert [(line.batch_number, line.batch is not None) for line in b.batches] == [
        (3, True),
        (4, False),
    ]
    assert a.attention == [a_doubt] and b.attention == [b_doubt]
    # What the page and the files show of them comes with the report, not one query each.
    with django_assert_num_queries(0):
        assert b.batches[1].settlement == orphan
        assert b.batches[1].settlement.store == store_b
        assert [line.terminal for line in b.batches] == [terminal_b, terminal_b]
        assert b.batches[0].store == store_b and b.batches[0].batch.terminal == terminal_b
        assert a.attention[0].terminal == terminal_a and a.attention[0].store == store_a
        assert str(b.attention[0].terminal) == str(terminal_b)


def test_in_doubt_and_flagged_intents_of_the_day_are_listed(
    client_for, finance, store_a, terminal_a, pay
):
    in_doubt = make_intent(
        store_a, terminal=terminal_a, state=State.IN_DOUBT, amount=Decimal("777.00")
    )
    flagged = pay("10.00", needs_attention=True, attention_reason="Estado desconocido de Prisma")
    old = make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    old.created_at = at(12, day=DAY - dt.timedelta(days=1))
    old.save(update_fields=["created_at"])
    quiet = pay("20.00")

    body = (
        client_for(finance)
        .get(URL, {"fecha": "2026-11-27", "sucursal": store_a.public_id})
        .content.decode()
    )

    assert reverse("dashboard:intent_detail", args=[in_doubt.public_id]) in body
    assert "$ 777,00" in body and "En duda" in body
    assert reverse("dashboard:intent_detail", args=[flagged.public_id]) in body
    assert "Estado desconocido de Prisma" in body
    assert reverse("dashboard:intent_detail", args=[old.public_id]) not in body
    assert reverse("dashboard:intent_detail", args=[quiet.public_id]) not in body


# --- Who may see it ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "manager_a", "finance"])
@pytest.mark.parametrize("url", [URL, CSV_URL, XLSX_URL])
def test_owner_manager_and_finance_see_the_report(request, client_for, store_a, persona, url):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(url, {"sucursal": store_a.public_id})
    assert response.status_code == 200


@pytest.mark.parametrize("url", [URL, CSV_URL, XLSX_URL])
def test_cashier_is_refused_in_his_own_store(client_for, cashier_a, store_a, url):
    client = client_for(cashier_a)
    assert client.get(url, {"sucursal": store_a.public_id}).status_code == 403
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [URL, CSV_URL, XLSX_URL])
def test_stores_outside_the_scope_are_not_found(
    client_for, outsider, manager_a, store_a, store_b, url
):
    assert client_for(outsider).get(url, {"sucursal": store_a.public_id}).status_code == 404
    assert client_for(manager_a).get(url, {"sucursal": store_b.public_id}).status_code == 404
    assert client_for(manager_a).get(url, {"sucursal": "no-es-un-uuid"}).status_code == 404


def test_all_stores_means_the_permitted_ones(client_for, manager_a, pay, store_b, terminal_b):
    pay("1000.00")
    pay("987.65", store=store_b, terminal=terminal_b)
    body = client_for(manager_a).get(URL).content.decode()
    assert "Sucursal A" in body
    assert "Sucursal B" not in body and "987,65" not in body


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_nav_link_only_for_people_who_may_see_reports(
    client_for, owner, finance, cashier_a, store_a
):
    link = f'href="{URL}"'
    assert link in client_for(owner).get("/").content.decode()
    assert link in client_for(finance).get("/").content.decode()
    assert link not in client_for(cashier_a).get("/").content.decode()


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fecha", ["27/13/2026", "2026-02-30", "ayer", "2026-11-27T00:00"])
def test_a_bad_date_is_a_form_error(client_for, owner, store_a, fecha):
    response = client_for(owner).get(URL, {"fecha": fecha})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ingresá una fecha válida" in body
    assert 'data-kpi="net"' not in body
    assert client_for(owner).get(CSV_URL, {"fecha": fecha}).status_code == 400
    assert client_for(owner).get(XLSX_URL, {"fecha": fecha}).status_code == 400


def test_a_future_date_is_refused(client_for, owner, store_a):
    response = client_for(owner).get(URL, {"fecha": "2026-11-28"})
    assert response.status_code == 200
    assert "todavía no llegó" in response.content.decode()
    assert client_for(owner).get(CSV_URL, {"fecha": "2026-11-28"}).status_code == 400
    # Dates in d/m/Y are read too.
    assert client_for(owner).get(URL, {"fecha": "27/11/2026"}).context["report"].day == DAY


# --- Queries -----------------------------------------------------------------------------------


def _fill(n, *, start=0, pay, store_a, terminal_a, store_b, terminal_b, payment):
    brands = ["VISA", "MASTERCARD", "CABAL", "AMEX"]
    for i in range(start, start + n):
        pay(
            "10.00",
            card_brand=brands[i % 4],
            installments=1 + i % 13,
            payment_type=["CREDIT", "DEBIT"][i % 2],
        )
        pay("20.00", store=store_b, terminal=terminal_b)
        make_intent(
            store_a,
            terminal=terminal_a,
            state=State.APPROVED,
            kind=Kind.REFUND,
            original=payment,
            amount=Decimal("1.00"),
            finished_at=at(11),
        )
        make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
        make_intent(store_b, terminal=terminal_b, state=State.DECLINED, finished_at=at(12))
        settlement = make_intent(
            store_a,
            terminal=terminal_a,
            state=State.APPROVED,
            kind=Kind.SETTLEMENT,
            amount=None,
            batch_number=1000 + i,
            finished_at=at(20),
        )
        if i % 2:
            Batch.objects.create(
                terminal=terminal_a,
                batch_number=1000 + i,
                settlement=settlement,
                closed_at=at(20),
                verdict=Batch.Verdict.MATCHED,
            )


def _count(client, url, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", [URL, CSV_URL, XLSX_URL])
def test_query_count_does_not_grow_with_rows(
    client_for,
    owner,
    pay,
    store_a,
    terminal_a,
    store_b,
    terminal_b,
    url,
    django_assert_max_num_queries,
):
    payment = pay("5000.00")
    client = client_for(owner)
    params = {"fecha": "2026-11-27"}
    kw = {
        "pay": pay,
        "store_a": store_a,
        "terminal_a": terminal_a,
        "store_b": store_b,
        "terminal_b": terminal_b,
        "payment": payment,
    }
    _fill(5, **kw)
    few = _count(client, url, params)
    _fill(45, start=5, **kw)
    many = _count(client, url, params)
    assert many == few, f"{url}: {few} queries with 5 rows of each, {many} with 50"
    # The report, the navigation (approvals badge), and 3 for its expected deposits
    # (operations, batch closes, fee tables); on PostgreSQL the SET and RESET of the grouped
    # query's planner settings (totals._HASHED_SERIAL).
    with django_assert_max_num_queries(21 if connection.vendor == "postgresql" else 19):
        client.get(url, params)


# --- Exports -----------------------------------------------------------------------------------


def test_csv_is_semicolon_separated_with_argentine_decimals(
    client_for, owner, store_a, day_of_store_a
):
    response = client_for(owner).get(
        CSV_URL, {"fecha": "2026-11-27", "sucursal": store_a.public_id}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="reporte-2026-11-27-sucursal-a.csv"'
    )
    raw = response.content
    assert raw.startswith("\ufeff".encode())  # BOM: Excel reads the accents
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "Fecha;CUIT;Sucursal;Sección;Concepto;Cantidad;Importe"
    # Amounts as every CSV of the portal writes them (1520,50: no thousands separator), and
    # what is taken back negative, so the lines add up to the net.
    where = f"27/11/2026;{store_a.merchant.cuit};Sucursal A"
    assert f"{where};Cobros;Aprobados;5;4834,56" in lines
    assert f"{where};Anulaciones;Aprobadas;1;-1234,56" in lines
    assert f"{where};Devoluciones;Aprobadas;1;-200,00" in lines
    assert f"{where};Neto;Cobros − anulaciones − devoluciones;;3400,00" in lines
    assert f"{where};Marca;VISA;3;2334,56" in lines
    assert f"{where};Crédito/débito;Débito;1;500,00" in lines
    assert f"{where};Cuotas;7 a 12 cuotas;1;2000,00" in lines


def test_csv_cells_cannot_become_formulas(client_for, owner, store_a, pay):
    pay("10.00", card_brand="=HYPERLINK(1)")
    body = client_for(owner).get(CSV_URL, {"fecha": "2026-11-27"}).content.decode("utf-8-sig")
    assert ";'=HYPERLINK(1);" in body
    assert ";=HYPERLINK" not in body


def _xlsx(response):
    assert response.streaming  # streamed from a file, never built in memory
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def test_xlsx_has_the_three_sheets_with_numeric_amounts(
    client_for, owner, store_a, terminal_a, day_of_store_a, pay
):
    late = pay(
        "1234.56", when=at(23, 30), reference="=CMD()", card_last_four="4242", installments=6
    )
    _batch(
        terminal_a,
        7,
        verdict=Batch.Verdict.MISMATCH,
        closed_at=at(22),
        differences=[
            {
                "line": "VISA",
                "portal_count": 1,
                "portal_amount": "1.00",
                "ticket_count": 1,
                "ticket_amount": "2.00",
            }
        ],
    )
    response = client_for(owner).get(
        XLSX_URL, {"fecha": "2026-11-27", "sucursal": store_a.public_id}
    )
    assert response.status_code == 200
    assert (
        response["Content-Type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="reporte-2026-11-27-sucursal-a.xlsx"'
    )
    book = _xlsx(response)
    assert book.sheetnames == ["Resumen", "Operaciones", "No aprobadas", "Lotes"]

    resumen = book["Resumen"]
    header = [c.value for c in resumen[1]]
    row = dict(zip(header, resumen[2], strict=False))
    assert row["Sucursal"].value == "Sucursal A"
    assert row["Cobros"].value == 6
    assert Decimal(str(row["Importe cobros"].value)) == Decimal("6069.12")
    assert Decimal(str(row["Neto"].value)) == Decimal("4634.56")
    assert row["Neto"].number_format == "#,##0.00"
    assert resumen[3][1].value == "Total"

    operaciones = book["Operaciones"]
    header = [c.value for c in operaciones[1]]
    rows = [dict(zip(header, r, strict=False)) for r in operaciones.iter_rows(min_row=2)]
    mine = next(r for r in rows if r["Referencia"].value == "=CMD()")
    assert mine["Referencia"].data_type == "s"  # text, not a formula
    assert isinstance(mine["Importe"].value, (int, float))
    assert Decimal(str(mine["Importe"].value)) == late.amount
    assert mine["Importe"].number_format == "#,##0.00"
    assert mine["Hora"].value == dt.datetime(2026, 11, 27, 23, 30)  # local wall-clock time
    assert (
        mine["Sucursal"].value,
        mine["Terminal"].value,
        mine["Últimos 4"].value,
        mine["Cuotas"].value,
    ) == ("Sucursal A", terminal_a.terminal_id, "4242", 6)
    assert (mine["Tipo"].value, mine["Estado"].value, mine["Marca"].value) == (
        "Cobro",
        "Aprobada",
        "VISA",
    )
    # The detail is the approved money: the 5 payments of the day, the reversal and the refund
    # (negative), and mine; it sums to the net.
    assert {r["Estado"].value for r in rows} == {"Aprobada"}
    assert len(rows) == 8
    assert sum(Decimal(str(r["Importe"].value)) for r in rows) == Decimal("4634.56")
    # Declined, failed and cancelled payments apart (the declined reversal moved nothing).
    apart = book["No aprobadas"]
    assert sorted(r[6] for r in apart.iter_rows(min_row=2, values_only=True)) == [
        "Cancelada",
        "Con error",
        "Rechazada",
    ]

    lotes = book["Lotes"]
    header = [c.value for c in lotes[1]]
    line = dict(zip(header, lotes[2], strict=False))
    assert (line["Lote"].value, line["Conciliación"].value) == (7, "Con diferencias")
    assert Decimal(str(line["Neto"].value)) == Decimal("2234.56")
    assert "VISA: portal 1 / 1,00, ticket 1 / 2,00" in line["Diferencias"].value


def test_xlsx_of_every_store_is_named_todas(client_for, finance, store_a, store_b):
    response = client_for(finance).get(XLSX_URL, {"fecha": "2026-11-26"})
    assert response["Content-Disposition"] == 'attachment; filename="reporte-2026-11-26-todas.xlsx"'
    resumen = _xlsx(response)["Resumen"]
    assert [r[1].value for r in resumen.iter_rows(min_row=2, max_row=4)] == [
        "Sucursal A",
        "Sucursal B",
        "Total",
    ]
