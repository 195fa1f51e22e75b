"""The daily report's content (issue 13, item 3), checked by hand against a known day of store
A, and its files (CSV and XLSX, summary and detail) against the page.

The day (27/11/2026, Buenos Aires), store A:

| op | what | terminal / lote | by | amount |
| P1 | VISA crédito 1 cuota | A1 / 5 | user owner | 1.000,00 |
| P2 | VISA crédito 3 cuotas | A1 / 5 | POS "Caja POS" | 600,00 |
| P3 | MASTERCARD débito (QR) | A2 / 9 | POS "Caja POS" | 250,50 |
| P4 | AMEX crédito 6 cuotas | A2 / 9 | user owner | 1.500,00 |
| P5 | VISA crédito 1 cuota, 23:50 (UTC: the 28th) | A1 / 5 | - | 99,99 |
| R1 | reversal of P1 (no amount, no card fields: "VI") | A1 / 5 | user owner | -1.000,00 |
| D1 | partial refund of P4 | A2 / 10 | user owner | -400,00 |
| -- | declined, failed, cancelled payments; a declined reversal; a sale on the 28th 00:10 |

Approved 5 = 3.450,49; reversals 1 = 1.000,00; refunds 1 = 400,00; net 2.050,49.
"""

import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.urls import reverse

from tests import factories
from tests.factories import make_intent
from transactions.models import Method
from transactions.reporting.daily import daily_report
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db

BA = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
DAY = dt.date(2026, 11, 27)
NET = Decimal("2050.49")


def ba(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=BA)


@pytest.fixture
def known_day(store_a, terminal_a, owner):
    terminal_a2 = factories.make_terminal(store_a, terminal_id="11112222", label="Caja A2")
    pos, _key = factories.make_pos_client(store_a, name="Caja POS")

    def pay(amount, terminal, batch, when=ba(27, 10), **kw):
        kw.setdefault("payment_type", "CREDIT")
        return make_intent(
            store_a,
            terminal=terminal,
            state=State.APPROVED,
            amount=Decimal(amount),
            batch_number=batch,
            finished_at=when,
            **kw,
        )

    p1 = pay("1000.00", terminal_a, 5, requested_by_user=owner, provider_id="pay-1")
    pay("600.00", terminal_a, 5, installments=3, requested_by_pos=pos)
    pay(
        "250.50",
        terminal_a2,
        9,
        card_brand="MASTERCARD",
        card_brand_code="MC",
        payment_type="DEBIT",
        method=Method.QR,
        requested_by_pos=pos,
    )
    p4 = pay(
        "1500.00",
        terminal_a2,
        9,
        card_brand="AMEX",
        card_brand_code="AM",
        installments=6,
        requested_by_user=owner,
    )
    pay("99.99", terminal_a, 5, when=ba(27, 23, 50))
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=p1,
        amount=None,
        card_brand_code="VI",
        batch_number=5,
        requested_by_user=owner,
        finished_at=ba(27, 11),
        provider_id="rev-1",
    )
    make_intent(
        store_a,
        terminal=terminal_a2,
        kind=Kind.REFUND,
        state=State.APPROVED,
        original=p4,
        amount=Decimal("400.00"),
        batch_number=10,
        requested_by_user=owner,
        finished_at=ba(27, 12),
    )
    for state in (State.DECLINED, State.FAILED, State.CANCELLED):
        make_intent(store_a, terminal=terminal_a, state=state, finished_at=ba(27, 13))
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.DECLINED,
        original=p1,
        finished_at=ba(27, 14),
    )
    pay("777.00", terminal_a, 6, when=ba(28, 0, 10))  # the next business day
    return p1


def _lines(lines):
    return {line.label: (line.count, line.amount, line.taken_back, line.net) for line in lines}


def test_the_known_day_by_hand(store_a, known_day):
    totals = daily_report(stores=[store_a], day=DAY).stores[0].totals
    assert (totals.approved_count, totals.approved_amount) == (5, Decimal("3450.49"))
    assert (totals.reversal_count, totals.reversal_amount) == (1, Decimal("1000.00"))
    assert (totals.refund_count, totals.refund_amount) == (1, Decimal("400.00"))
    assert totals.net == NET
    assert (totals.declined_count, totals.failed_count, totals.cancelled_count) == (1, 1, 1)

    # Brand × crédito/débito × cuotas, crossed; follow-ups under their payment's combination.
    assert _lines(totals.combinations) == {
        "AMEX · Crédito · 6 cuotas": (1, Decimal("1500.00"), Decimal("400.00"), Decimal("1100.00")),
        "VISA · Crédito · 1 cuota": (2, Decimal("1099.99"), Decimal("1000.00"), Decimal("99.99")),
        "VISA · Crédito · 3 cuotas": (1, Decimal("600.00"), Decimal("0"), Decimal("600.00")),
        "MASTERCARD · Débito · 1 cuota": (1, Decimal("250.50"), Decimal("0"), Decimal("250.50")),
    }
    assert _lines(totals.terminals) == {
        "Caja A1 (11111111)": (3, Decimal("1699.99"), Decimal("1000.00"), Decimal("699.99")),
        "Caja A2 (11112222)": (2, Decimal("1750.50"), Decimal("400.00"), Decimal("1350.50")),
    }
    assert _lines(totals.batches) == {
        "Caja A1 (11111111) · Lote 5": (
            3,
            Decimal("1699.99"),
            Decimal("1000.00"),
            Decimal("699.99"),
        ),
        "Caja A2 (11112222) · Lote 9": (2, Decimal("1750.50"), Decimal("0"), Decimal("1750.50")),
        "Caja A2 (11112222) · Lote 10": (0, Decimal("0"), Decimal("400.00"), Decimal("-400.00")),
    }
    assert _lines(totals.origins) == {
        "Clave POS Caja POS": (2, Decimal("850.50"), Decimal("0"), Decimal("850.50")),
        "Usuario duenio": (2, Decimal("2500.00"), Decimal("1400.00"), Decimal("1100.00")),
        "Sin registro de quién cobró": (1, Decimal("99.99"), Decimal("0"), Decimal("99.99")),
    }
    for _title, _key, lines in totals.breakdowns:
        assert sum(line.net for line in lines) == NET


def test_several_merchants_get_a_subtotal_each(client_for, store_a, known_day):
    other = factories.make_store(name="Otra razón social")
    factories.make_intent(
        other, state=State.APPROVED, amount=Decimal("10.00"), finished_at=ba(27, 10)
    )
    person = factories.make_user("dos_cuits")
    factories.make_membership(person, "finance", merchant=store_a.merchant)
    factories.make_membership(person, "finance", merchant=other.merchant)
    report = daily_report(stores=[store_a, other], day=DAY)
    assert [m.totals.net for m in report.merchants] == [NET, Decimal("10.00")]
    assert report.overall.net == NET + Decimal("10.00")
    page = client_for(person).get(reverse("dashboard:daily_report"), {"fecha": "2026-11-27"})
    html = page.content.decode()
    assert f'data-cuit="{store_a.merchant.cuit}"' in html
    assert f'data-cuit="{other.merchant.cuit}"' in html
    csv = client_for(person).get(reverse("dashboard:daily_report_csv"), {"fecha": "2026-11-27"})
    text = csv.content.decode("utf-8-sig")
    assert (
        "Subtotal Comercio de Prueba S.A.;Neto;Cobros − anulaciones − devoluciones;;2050,49" in text
    )


def _detail_csv(client, store) -> list[dict]:
    response = client.get(
        reverse("dashboard:daily_report_operations_csv"),
        {"fecha": "2026-11-27", "sucursal": store.public_id},
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = [line.split(";") for line in text.splitlines()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def _amount(text: str) -> Decimal:
    assert "." not in text  # one format in every CSV: 1520,50
    return Decimal(text.replace(",", "."))


def test_the_detail_sums_to_the_net_in_csv_and_xlsx_alike(client_for, owner, store_a, known_day):
    client = client_for(owner)
    rows = _detail_csv(client, store_a)
    assert len(rows) == 7  # 5 payments, the reversal, the refund
    assert sum(_amount(r["Importe"]) for r in rows) == NET
    reversal = next(r for r in rows if r["Tipo"] == "Anulación")
    # The reversal reads like its payment: VISA (not "VI"), its plan, and its payment_id.
    assert (reversal["Importe"], reversal["Marca"], reversal["Crédito/débito"]) == (
        "-1000,00",
        "VISA",
        "Crédito",
    )
    assert (reversal["ID de pago Prisma"], reversal["Pago original"]) == ("rev-1", "pay-1")
    late = next(r for r in rows if r["Importe"] == "99,99")
    # The time is the business time (the provider's), store-local, in every file.
    assert (late["Fecha"], late["Hora"]) == ("27/11/2026", "27/11/2026 23:50:00")

    response = client.get(
        reverse("dashboard:daily_report_xlsx"),
        {"fecha": "2026-11-27", "sucursal": store_a.public_id},
    )
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book["Operaciones"]
    header = [c.value for c in sheet[1]]
    assert header == list(rows[0].keys())  # the same columns, in the same order
    xlsx_rows = [
        dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert sum(Decimal(str(r["Importe"])) for r in xlsx_rows) == NET
    xlsx_late = next(r for r in xlsx_rows if r["ID"] == late["ID"])
    assert xlsx_late["Hora"] == dt.datetime(2026, 11, 27, 23, 50)
    assert [r["ID"] for r in xlsx_rows] == [r["ID"] for r in rows]
    assert len(list(book["No aprobadas"].iter_rows(min_row=2))) == 3


def test_xlsx_and_csv_totals_equal_the_page(client_for, owner, store_a, known_day):
    client = client_for(owner)
    query = {"fecha": "2026-11-27", "sucursal": store_a.public_id}
    page = client.get(reverse("dashboard:daily_report"), query).content.decode()
    assert 'data-kpi="net">$ 2.050,49<' in page
    csv = client.get(reverse("dashboard:daily_report_csv"), query).content.decode("utf-8-sig")
    assert ";Neto;Cobros − anulaciones − devoluciones;;2050,49" in csv
    response = client.get(reverse("dashboard:daily_report_xlsx"), query)
    resumen = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Resumen"]
    header = [c.value for c in resumen[1]]
    row = dict(zip(header, [c.value for c in resumen[2]], strict=False))
    assert Decimal(str(row["Neto"])) == NET
    assert Decimal(str(row["Importe anulaciones"])) == Decimal("-1000.00")
    assert row["Cobros"] == 5 and row["Rechazados"] == 1


def test_settlement_report_command_writes_the_same_files(tmp_path, store_a, known_day):
    out = tmp_path / "dia.csv"
    call_command(
        "settlement_report",
        "--store",
        store_a.code,
        "--date",
        "2026-11-27",
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert ";Neto;Cobros − anulaciones − devoluciones;;2050,49" in out.read_text("utf-8-sig")

    detail = tmp_path / "detalle.csv"
    call_command(
        "settlement_report",
        "--merchant",
        store_a.merchant.cuit.replace("-", ""),
        "--date",
        "2026-11-27",
        "--format",
        "csv",
        "--detail",
        "--out",
        str(detail),
    )
    lines = detail.read_text("utf-8-sig").splitlines()[1:]
    assert sum(_amount(line.split(";")[13]) for line in lines) == NET

    book_path = tmp_path / "periodo.xlsx"
    call_command(
        "settlement_report",
        "--store",
        store_a.code,
        "--date",
        "2026-11-27",
        "--to",
        "2026-11-28",
        "--format",
        "xlsx",
        "--out",
        str(book_path),
    )
    book = openpyxl.load_workbook(book_path)
    totals = {r[1]: r for r in book["Resumen"].iter_rows(min_row=2, values_only=True) if r[0]}
    period = list(book["Resumen"].iter_rows(values_only=True))[-1]
    assert period[1] == "Total del período"
    assert Decimal(str(period[8])) == NET + Decimal("777.00")
    assert totals  # one row per store and day


def test_settlement_report_command_refuses_what_it_cannot_find(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No existe la sucursal"):
        call_command(
            "settlement_report",
            "--store",
            "nada",
            "--date",
            "2026-11-27",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x.csv"),
        )
    with pytest.raises(CommandError, match="Fecha inválida"):
        call_command(
            "settlement_report",
            "--merchant",
            "30-70000001-5",
            "--date",
            "27/11",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x.csv"),
        )


def test_a_period_without_breakdowns_has_each_days_outcomes(store_a, store_b, known_day):
    from transactions.reporting.totals import day_totals, range_totals

    first, last = DAY, dt.date(2026, 11, 28)
    lean = range_totals(stores=[store_a, store_b], first=first, last=last, breakdowns=False)
    full = range_totals(stores=[store_a, store_b], first=first, last=last)
    for day in (first, last):
        expected, expected_all = day_totals(stores=[store_a, store_b], day=day, overall_day=day)
        assert full[day][1] == expected_all
        for got, want in (
            (lean[day][1], expected_all),
            (lean[day][0][store_a.pk], expected[store_a.pk]),
        ):
            assert (got.approved_count, got.approved_amount, got.net) == (
                want.approved_count,
                want.approved_amount,
                want.net,
            )
            assert (got.declined_count, got.failed_count, got.cancelled_count) == (
                want.declined_count,
                want.failed_count,
                want.cancelled_count,
            )
            assert got.brands == []
    assert lean[DAY][1].net == NET
