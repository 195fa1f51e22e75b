"""The one place that writes spreadsheets: formula escaping, the CSV dialect of every export
(BOM, ';'), streamed or in memory alike, and XLSX cells that stay text or money."""

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from openpyxl import Workbook

from transactions.reporting import exports


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+54 11", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert exports.spreadsheet_text(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "expected"), [("Visa", "Visa"), ("a=b", "a=b"), ("", ""), (None, ""), (42, "42")]
)
def test_other_text_is_left_alone(value, expected):
    assert exports.spreadsheet_text(value) == expected


def test_csv_has_a_bom_semicolons_and_is_the_same_streamed_or_in_memory():
    header = ["marca", "importe"]
    rows = [["VISA", "1.234,56"], ["Café; con leche", "1,00"]]
    text = exports.csv_text(header, rows)
    assert text == '\ufeffmarca;importe\r\nVISA;1.234,56\r\n"Café; con leche";1,00\r\n'
    assert "".join(exports.csv_lines(header, iter(rows))) == text


def test_xlsx_cells_stay_text_or_become_money_never_formulas():
    workbook = Workbook()
    sheet = exports.XlsxSheet(
        workbook.active, ["Referencia", "Importe", "Día"], money_columns={2}, widths=[10, 10, 10]
    )
    sheet.append(["=CMD()", Decimal("1234.56"), dt.date(2026, 11, 27)])
    book = openpyxl.load_workbook(io.BytesIO(exports.workbook_bytes(workbook)))
    reference, amount, day = book.active[2]
    assert (reference.value, reference.data_type) == ("=CMD()", "s")
    assert Decimal(str(amount.value)) == Decimal("1234.56")
    assert amount.number_format == exports.MONEY_FORMAT
    assert day.number_format == exports.DATE_FORMAT
    assert book.active.freeze_panes == "A2" and book.active["A1"].font.bold
    assert book.properties.creator == "ECR Portal"


def test_a_long_csv_is_streamed_in_pieces_that_add_up_to_the_whole_document():
    header = ["n", "texto"]
    rows = [[str(n), f"=fila {n}"] for n in range(exports.CSV_ROWS_PER_PIECE * 2 + 3)]
    pieces = list(exports.csv_lines(header, iter(rows)))
    assert len(pieces) == 3, "bounded pieces, not one per row nor the whole file"
    assert "".join(pieces) == exports.csv_text(header, rows)


def _operation_row(**overrides) -> dict:
    """A detail row as `daily._operations` reads it (a payment unless overridden)."""
    row = {
        "pk": 1,
        "public_id": "0b6f1c9e-4a0b-4f57-9d1e-5b0f4e0c2a11",
        "kind": "payment",
        "state": "approved",
        "card_brand": "VISA",
        "card_brand_code": "VI",
        "payment_type": "CREDIT",
        "card_last_four": "4242",
        "installments": 3,
        "authorization_code": "=123456",
        "ticket_number": "17",
        "batch_number": 104,
        "reference": "+POS-1",
        "provider_id": "abc",
        "local_time": dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC),
        "business_day": dt.date(2026, 11, 27),
        "store__name": "@Centro",
        "store__time_zone": "America/Argentina/Buenos_Aires",
        "terminal__terminal_id": "60000001",
        "original_id": None,
        "effective_amount": Decimal("1520.50"),
    }
    row.update(
        {
            f"orig_{name}": None
            for name in (
                "provider_id",
                "card_brand",
                "card_brand_code",
                "payment_type",
                "installments",
                "card_last_four",
            )
        }
    )
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    "row",
    [
        _operation_row(),
        # A reversal whose answer repeated no card fields: its payment's, amount negative.
        _operation_row(
            kind="reversal",
            card_brand="",
            card_brand_code="",
            payment_type="",
            card_last_four="",
            original_id=7,
            orig_provider_id="-p",
            orig_card_brand="Visa",
            orig_card_brand_code="VI",
            orig_payment_type="DEBIT",
            orig_card_last_four="1111",
            authorization_code="",
            ticket_number="",
            effective_amount=Decimal("99.99"),
        ),
        # Declined, never reached a terminal nor a batch, no business time.
        _operation_row(
            state="declined",
            terminal__terminal_id=None,
            batch_number=None,
            local_time=None,
            business_day=None,
            effective_amount=1520.5,
        ),
        # A refund of nothing (no "-0,00"), text from the provider that reads as a formula.
        _operation_row(
            kind="refund",
            effective_amount=Decimal("0"),
            card_brand="=HYPERLINK()",
            payment_type="-CREDITO",
            card_last_four="@123",
            provider_id="+1",
            reference="",
            ticket_number=None,
            installments=None,
            local_time=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        ),
        # Cents that need rounding, a big amount, a refund.
        _operation_row(kind="refund", effective_amount=Decimal("1234567.005")),
        _operation_row(effective_amount=Decimal("0.01"), store__name="\tTab"),
    ],
)
def test_the_operations_csv_formats_each_column_as_the_generic_cell_would(row):
    generic = [exports.csv_cell(value) for value in exports.operation_values(row)]
    assert exports.operation_csv_row(row) == generic


def test_the_time_is_the_stores_wall_clock_as_either_database_gives_it():
    # PostgreSQL converts it (`daily.LocalTime`: a naive wall-clock time), SQLite gives the
    # aware moment: both rows read 20:30 in Buenos Aires.
    aware = _operation_row(local_time=dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC))
    naive = _operation_row(local_time=dt.datetime(2026, 11, 27, 20, 30))
    assert exports.operation_values(aware)[1] == exports.operation_values(naive)[1]
    assert exports.operation_values(naive)[1] == dt.datetime(2026, 11, 27, 20, 30)
    assert exports.operation_csv_row(naive)[1] == "27/11/2026 20:30:00"
