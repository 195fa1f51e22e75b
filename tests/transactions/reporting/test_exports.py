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
