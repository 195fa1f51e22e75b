"""Three-way reconciliation with the acquirer's liquidación: reading files under a saved column
mapping (CSV and XLSX, errors per row), idempotent imports, every difference kind, differences
that settle by themselves, and the audited work on a difference."""

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests.factories import make_intent
from transactions.errors import IntentRuleError
from transactions.models import (
    Batch,
    Difference,
    DifferenceEvent,
    LiquidationImport,
    LiquidationLine,
)
from transactions.reporting.differences import approved_after_close_scan
from transactions.reporting.liquidation import parse_amount, parse_date
from transactions.reporting.reconciliation import batch_record_for_settlement
from transactions.services.differences import (
    difference_assign,
    difference_note,
    difference_reopen,
    difference_resolve,
)
from transactions.services.liquidation import (
    liquidation_import,
    liquidation_mapping_save,
    liquidation_preview,
)
from transactions.states import Kind, State

BA = ZoneInfo("America/Argentina/Buenos_Aires")
D = Decimal
K = Difference.Kind
COLUMNS = {
    "terminal": "Nro Terminal",
    "batch": "Lote",
    "authorization": "Cod Aut",
    "amount": "Importe Bruto",
    "date": "Fecha Op",
    "brand": "Marca",
}


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=BA)


def csv_file(*rows: str) -> bytes:
    header = "Liquidación Nro 123;;;;;\nNro Terminal;Lote;Cod Aut;Importe Bruto;Fecha Op;Marca\n"
    return (header + "\n".join(rows) + "\n").encode("latin-1")


def test_amounts_and_dates_in_the_shapes_files_carry():
    assert parse_amount("1.234,56") == D("1234.56")
    assert parse_amount("$ -1.520,50") == D("-1520.50")
    assert parse_amount("1,234.56") == D("1234.56")
    assert parse_amount("1234.5") == D("1234.50")
    assert parse_amount("(200,00)") == D("-200.00")
    assert parse_amount("1.000.000") == D("1000000.00")
    assert parse_amount("1.000") == D("1000.00") and parse_amount("1.50") == D("1.50")
    with pytest.raises(ValueError):
        parse_amount("abc")
    assert parse_date("20/11/2026") == dt.date(2026, 11, 20)
    assert parse_date("2026-11-20T14:05:00") == dt.date(2026, 11, 20)
    assert parse_date("20/11/26 14:05") == dt.date(2026, 11, 20)
    with pytest.raises(ValueError):
        parse_date("mañana")


@pytest.fixture
def ledger(store_a, terminal_a):
    """Batch 5 of terminal A, closed Friday 20/11 at 22:00 with a ticket."""

    def pay(amount, auth, **kw):
        kw.setdefault("finished_at", at("2026-11-20", 12))
        return make_intent(
            store_a,
            terminal=terminal_a,
            state=State.APPROVED,
            amount=D(amount),
            authorization_code=auth,
            batch_number=5,
            **kw,
        )

    ok = pay("1000.00", "A1")
    differs = pay("2500.00", "A2")
    missing = pay("300.00", "A3")
    annulled = pay("700.00", "A4")
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=annulled,
        amount=None,
    )
    refund = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.APPROVED,
        amount=D("200.00"),
        authorization_code="R1",
        batch_number=5,
        finished_at=at("2026-11-20", 13),
    )
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=5,
        finished_at=at("2026-11-20", 22),
    )
    batch = Batch.objects.create(
        terminal=terminal_a,
        batch_number=5,
        settlement=settlement,
        closed_at=at("2026-11-20", 22),
        closing_ticket="VISA CANT 4 $ 4.500,00",
    )
    return {"ok": ok, "differs": differs, "missing": missing, "refund": refund, "batch": batch}


FILE = csv_file(
    "11111111;5;A1;1.000,00;20/11/2026;VISA",
    "11111111;5;A2;2.400,00;20/11/2026;VISA",
    "11111111;5;R1;-200,00;20/11/2026;VISA",
    "11111111;5;Z9;1.234,56;20/11/2026;VISA",
    "11111111;6;A6;50,00;21/11/2026;VISA",
    "11111111;5;A7;abc;20/11/2026;VISA",
    "123;5;A8;10,00;20/11/2026;VISA",
    "99999999;5;A9;10,00;20/11/2026;VISA",
    ";;;;;",
)


@pytest.fixture
def mapped(merchant, owner):
    return liquidation_mapping_save(merchant=merchant, user=owner, columns=COLUMNS)


def _open(kind) -> list[Difference]:
    return list(Difference.objects.filter(kind=kind, status=Difference.Status.OPEN))


def test_the_mapping_is_required_and_complete(merchant, owner):
    with pytest.raises(IntentRuleError, match="indicá qué columna"):
        liquidation_preview(merchant=merchant, user=owner, file_name="l.csv", content=FILE)
    with pytest.raises(IntentRuleError, match="Importe"):
        liquidation_mapping_save(merchant=merchant, user=owner, columns={**COLUMNS, "amount": ""})
    with pytest.raises(IntentRuleError, match="misma columna"):
        liquidation_mapping_save(
            merchant=merchant, user=owner, columns={**COLUMNS, "brand": "Lote"}
        )


def test_preview_reads_every_row_and_reports_errors_per_row(merchant, owner, mapped, ledger):
    parsed, _ = liquidation_preview(merchant=merchant, user=owner, file_name="l.csv", content=FILE)
    assert parsed.rows_total == 8
    assert len(parsed.lines) == 5
    errors = {e["row"]: e["message"] for e in parsed.errors}
    assert errors == {
        8: "importe ilegible «abc»",
        9: "la terminal no tiene 8 dígitos",
        10: "la terminal 99999999 no es de este comercio",
    }
    assert not LiquidationLine.objects.exists(), "a preview writes nothing"


def test_import_matches_and_raises_each_kind_once(
    merchant, owner, finance, cashier_a, mapped, ledger, mailoutbox
):
    for person in (owner, finance, cashier_a):
        person.email = f"{person.username}@example.com"
        person.save()
    record, new = liquidation_import(merchant=merchant, user=owner, file_name="l.csv", content=FILE)
    (message,) = mailoutbox
    assert message.to == ["duenio@example.com", "finanzas@example.com"]
    assert "5 diferencias nuevas" in message.body and "Falta en el portal: 2" in message.body
    assert new and (record.rows_total, record.rows_new, len(record.errors)) == (8, 5, 3)
    lines = {line.authorization_code: line for line in LiquidationLine.objects.all()}
    assert lines["A1"].intent == ledger["ok"]
    assert lines["R1"].intent == ledger["refund"], "a refund matches its negative line"
    assert lines["Z9"].intent is None

    (amount,) = _open(K.AMOUNT_DIFFERS)
    assert amount.intent == ledger["differs"]
    assert (amount.portal_amount, amount.other_amount) == (D("2500.00"), D("2400.00"))
    (missing_here,) = _open(K.MISSING_IN_LIQUIDATION)
    assert missing_here.intent == ledger["missing"], "the reversed sale is not expected"
    in_ledger = {d.line.authorization_code for d in _open(K.MISSING_IN_LEDGER)}
    assert in_ledger == {"Z9", "A6"}
    (no_close,) = _open(K.BATCH_WITHOUT_TICKET)
    assert (no_close.terminal_id, no_close.batch_number) == ("11111111", 6)
    assert all(
        d.events.filter(action=DifferenceEvent.Action.RAISED).count() == 1
        for d in Difference.objects.all()
    )

    # The same bytes again: the same import, nothing added, nothing raised twice.
    count = Difference.objects.count()
    again, new = liquidation_import(
        merchant=merchant, user=owner, file_name="otra.csv", content=FILE
    )
    assert again == record and not new
    assert LiquidationLine.objects.count() == 5 and Difference.objects.count() == count
    assert len(mailoutbox) == 1, "nothing new: nobody is told again"


def test_a_later_file_settles_what_was_missing(merchant, owner, mapped, ledger):
    liquidation_import(merchant=merchant, user=owner, file_name="l.csv", content=FILE)
    later = csv_file(
        "11111111;5;A1;1.000,00;20/11/2026;VISA",  # already imported
        "11111111;5;A3;300,00;20/11/2026;VISA",  # the missing sale arrives
    )
    record, new = liquidation_import(
        merchant=merchant, user=owner, file_name="l2.csv", content=later
    )
    assert new and (record.rows_new, record.rows_repeated) == (1, 1)
    settled = Difference.objects.get(kind=K.MISSING_IN_LIQUIDATION)
    assert settled.status == Difference.Status.RESOLVED
    assert settled.resolved_by is None and "sola" in settled.resolution
    assert settled.events.last().action == DifferenceEvent.Action.RESOLVED
    # What is still wrong stays open.
    assert _open(K.AMOUNT_DIFFERS) and len(_open(K.MISSING_IN_LEDGER)) == 2


def test_a_line_paid_twice_is_kept_twice_and_the_second_is_raised(merchant, owner, mapped, ledger):
    """Two identical lines in one file are the acquirer paying one sale twice: both are kept
    and the second, with no operation left to match, is missing in the ledger. A later file
    that overlaps (the same lines again) adds nothing."""
    twice = csv_file(
        "11111111;5;A1;1.000,00;20/11/2026;VISA",
        "11111111;5;A1;1.000,00;20/11/2026;VISA",
    )
    record, _ = liquidation_import(merchant=merchant, user=owner, file_name="a.csv", content=twice)
    assert (record.rows_new, record.rows_repeated) == (2, 0)
    lines = list(LiquidationLine.objects.filter(authorization_code="A1").order_by("pk"))
    assert [line.intent for line in lines] == [ledger["ok"], None]
    (paid_twice,) = _open(K.MISSING_IN_LEDGER)
    assert paid_twice.line == lines[1] and paid_twice.other_amount == D("1000.00")

    overlapping = csv_file(
        "11111111;5;A1;1.000,00;20/11/2026;VISA",
        "11111111;5;A1;1.000,00;20/11/2026;VISA",
        "11111111;5;A3;300,00;20/11/2026;VISA",
    )
    record, _ = liquidation_import(
        merchant=merchant, user=owner, file_name="b.csv", content=overlapping
    )
    assert (record.rows_new, record.rows_repeated) == (1, 2)
    assert LiquidationLine.objects.filter(authorization_code="A1").count() == 2


def test_xlsx_with_numbers_and_dates_as_cells(merchant, owner, mapped, ledger):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS.values()))
    sheet.append([11111111, 5, "A1", 1000.0, dt.datetime(2026, 11, 20), "VISA"])
    sheet.append([11111111, 5, "A2", 2500.0, dt.datetime(2026, 11, 20), "VISA"])
    buffer = io.BytesIO()
    book.save(buffer)
    record, _ = liquidation_import(
        merchant=merchant, user=owner, file_name="liq.xlsx", content=buffer.getvalue()
    )
    assert (record.rows_new, record.errors) == (2, [])
    assert not _open(K.AMOUNT_DIFFERS)
    assert {d.intent for d in _open(K.MISSING_IN_LIQUIDATION)} == {
        ledger["missing"],
        ledger["refund"],
    }


@pytest.mark.parametrize("separator", [",", "\t", ";"])
def test_the_separator_is_found_even_with_commas_in_amounts(separator):
    from transactions.reporting.liquidation import read_rows

    quote = '"' if separator == "," else ""
    text = separator.join(["Terminal", "Importe", "Fecha"]) + "\n"
    text += separator.join(["11111111", f"{quote}1.000,50{quote}", "20/11/2026"]) + "\n"
    rows = read_rows(text.encode(), "l.csv")
    assert rows[1] == ["11111111", "1.000,50", "20/11/2026"]


def test_a_file_that_is_not_a_table_is_refused(merchant, owner, mapped):
    with pytest.raises(IntentRuleError, match="No encontré una fila"):
        liquidation_import(merchant=merchant, user=owner, file_name="l.csv", content=b"hola")
    with pytest.raises(IntentRuleError, match="XLSX"):
        liquidation_import(merchant=merchant, user=owner, file_name="l.xlsx", content=b"hola")
    assert not LiquidationImport.objects.exists()


def test_a_manager_of_one_store_cannot_import(merchant, manager_a, owner, mapped):
    with pytest.raises(IntentRuleError) as exc:
        liquidation_import(merchant=merchant, user=manager_a, file_name="l.csv", content=FILE)
    assert exc.value.code == "forbidden"


def test_a_payment_approved_after_its_batch_closed(store_a, terminal_a, ledger):
    late = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        authorization_code="L1",
        batch_number=5,
        finished_at=at("2026-11-20", 22, 30),
    )
    make_intent(  # in the next batch: fine
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        batch_number=6,
        finished_at=at("2026-11-20", 23),
    )
    assert approved_after_close_scan(since=at("2026-11-19", 0)) == 1
    assert approved_after_close_scan(since=at("2026-11-19", 0)) == 1  # same one, raised once
    (difference,) = Difference.objects.filter(kind=K.APPROVED_AFTER_CLOSE)
    assert difference.intent == late and difference.batch_number == 5


def test_a_close_without_ticket_raises_a_batch_without_ticket(store_a, terminal_a):
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, batch_number=9)
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=9,
        merchant_receipt="",
    )
    batch = batch_record_for_settlement(settlement=settlement)
    (difference,) = Difference.objects.filter(kind=K.BATCH_WITHOUT_TICKET)
    assert difference.batch == batch and difference.status == Difference.Status.OPEN
    assert batch_record_for_settlement(settlement=settlement) == batch
    assert Difference.objects.count() == 1


def test_the_work_on_a_difference_is_audited(
    merchant, owner, finance, cashier_a, outsider, mapped, ledger
):
    liquidation_import(merchant=merchant, user=owner, file_name="l.csv", content=FILE)
    difference = Difference.objects.get(kind=K.AMOUNT_DIFFERS)
    with pytest.raises(IntentRuleError, match="no ve los reportes"):
        difference_assign(difference=difference, user=owner, assignee=cashier_a)
    difference_assign(difference=difference, user=owner, assignee=finance)
    difference_note(difference=difference, user=finance, text="Pedí el detalle al adquirente.")
    with pytest.raises(IntentRuleError) as exc:
        difference_resolve(difference=difference, user=finance, explanation="  ")
    assert exc.value.code == "reason_required"
    difference_resolve(
        difference=difference, user=finance, explanation="Propina cargada aparte en la terminal."
    )
    difference.refresh_from_db()
    assert difference.status == Difference.Status.RESOLVED and difference.resolved_by == finance
    with pytest.raises(IntentRuleError):
        difference_resolve(difference=difference, user=finance, explanation="otra vez")
    with pytest.raises(IntentRuleError) as exc:
        difference_note(difference=difference, user=cashier_a, text="hola")
    assert exc.value.code == "forbidden"
    difference_reopen(difference=difference, user=owner, reason="El adquirente no lo confirma.")
    actions = list(difference.events.values_list("action", "actor__username"))
    assert actions == [
        ("raised", None),
        ("assigned", "duenio"),
        ("note", "finanzas"),
        ("resolved", "finanzas"),
        ("reopened", "duenio"),
    ]


def _queries_to_import(merchant, owner, lines: int, batch: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows = [f"11111111;{batch};X{batch}{n};{n},00;20/11/2026;VISA" for n in range(1, lines + 1)]
    with CaptureQueriesContext(connection) as captured:
        liquidation_import(
            merchant=merchant, user=owner, file_name="l.csv", content=csv_file(*rows)
        )
    assert Difference.objects.filter(batch_number=batch).count() == lines + 1
    return len(captured)


def test_an_import_does_not_cost_a_query_per_line(merchant, owner, mapped, terminal_a):
    # Inserts are batched; SQLite splits a batch by its bound-parameter limit, hence the slack.
    small = _queries_to_import(merchant, owner, 10, 1)
    assert small <= _queries_to_import(merchant, owner, 60, 2) <= small + 2
