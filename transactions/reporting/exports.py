"""Spreadsheet files: how every export of the portal writes CSV and XLSX, the escaping that keeps
a cell from running as a formula, and the daily report's two documents.

Every CSV of the portal starts with a BOM (so spreadsheet programs read the accents) and is
separated by ';' (',' is the decimal separator in es-AR). In XLSX, strings stay strings and
Decimal amounts become numbers with a money format, never through float.
"""

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from stores.models import Store
from transactions.brands import brand_label
from transactions.money import format_decimal_es
from transactions.reporting.daily import BatchDifference, DailyReport
from transactions.reporting.totals import DayTotals, payment_type_label

BOM = "\ufeff"
DELIMITER = ";"
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm:ss"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value) -> str:
    """Text a spreadsheet will not run: a leading =, +, -, @ (or tab, carriage return) would make
    it a formula, so it gets a leading apostrophe. Use it on every cell people or the provider
    typed (names, references, brands, statuses)."""
    text = str(value or "")
    return "'" + text if text[:1] in _FORMULA_STARTS else text


# --- CSV ---------------------------------------------------------------------------------------


def csv_text(header: list[str], rows: Iterable[list]) -> str:
    """A whole CSV document in memory (small exports)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=DELIMITER)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


class _Echo:
    """A file-like object whose write() returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """A CSV document line by line, for a streaming response (exports that grow with the
    ledger)."""
    writer = csv.writer(_Echo(), delimiter=DELIMITER)
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


# --- XLSX --------------------------------------------------------------------------------------


BOLD = Font(bold=True)


class XlsxSheet:
    """Appends rows to a worksheet under a bold, frozen header: strings stay strings (openpyxl
    would turn a leading '=' into a formula), Decimal amounts become numbers with a money format
    (never through float), dates and datetimes get a day-first format.

    Works on a write-only worksheet (`Workbook(write_only=True)`, what the exports use: rows go
    to disk as they come, so memory stays bounded however long the file) as on a normal one:
    every format is decided when the row is appended, and widths and the frozen header are set
    before the first row."""

    def __init__(self, worksheet, headers: list[str], money_columns: set[int], widths: list[int]):
        self.ws = worksheet
        self.money_columns = money_columns
        self.row = 0
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.ws.freeze_panes = "A2"
        self.append(headers, bold=True)

    def append(self, values, *, bold: bool = False, bold_columns: frozenset[int] = frozenset()):
        self.row += 1
        cells = []
        for column, value in enumerate(values, start=1):
            cell = WriteOnlyCell(self.ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            elif isinstance(value, Decimal) or (column in self.money_columns and value is not None):
                cell.number_format = MONEY_FORMAT
            elif isinstance(value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT
            if bold or column in bold_columns:
                cell.font = BOLD
            cells.append(cell)
        self.ws.append(cells)


def local_naive(value: dt.datetime | None, store: Store) -> dt.datetime | None:
    """Excel has no time zones: the store's wall-clock time, without tzinfo."""
    return value.astimezone(store.tzinfo).replace(tzinfo=None) if value else None


def _stamp(workbook: Workbook) -> None:
    workbook.properties.creator = "ECR Portal"
    workbook.properties.created = timezone.now().replace(tzinfo=None)


def workbook_bytes(workbook: Workbook) -> bytes:
    _stamp(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def workbook_file(workbook: Workbook) -> IO[bytes]:
    """The workbook saved to an anonymous temporary file, rewound, for a streaming response
    (`FileResponse`): the file is never held in memory whole."""
    _stamp(workbook)
    file = tempfile.TemporaryFile()  # noqa: SIM115 -- the response closes it once sent
    workbook.save(file)
    file.seek(0)
    return file


# --- The daily report --------------------------------------------------------------------------


def _summary_rows(label: str, totals: DayTotals):
    """(store, section, item, count, amount) lines of one scope, for the CSV and the XLSX."""
    yield label, "Cobros", "Aprobados", totals.approved_count, totals.approved_amount
    yield label, "Anulaciones", "Aprobadas", totals.reversal_count, totals.reversal_amount
    yield label, "Devoluciones", "Aprobadas", totals.refund_count, totals.refund_amount
    yield label, "Neto", "Cobros − anulaciones − devoluciones", None, totals.net
    yield label, "No aprobados", "Rechazados", totals.declined_count, None
    yield label, "No aprobados", "Con error", totals.failed_count, None
    yield label, "No aprobados", "Cancelados", totals.cancelled_count, None
    for brand in totals.brands:
        yield label, "Marca", brand.brand, brand.count, brand.amount
    for bucket in totals.payment_types:
        yield label, "Crédito/débito", bucket.label, bucket.count, bucket.amount
    for bucket in totals.installments:
        yield label, "Cuotas", bucket.label, bucket.count, bucket.amount


def _report_lines(report: DailyReport):
    for section in report.stores:
        yield from _summary_rows(section.store.name, section.totals)
    if len(report.stores) > 1:
        yield from _summary_rows("Todas", report.overall)
    for line in report.batches:
        terminal = line.terminal.terminal_id if line.terminal else "sin terminal"
        yield (
            line.store.name,
            "Lote",
            f"Terminal {terminal} lote {line.batch_number or '?'} ({line.verdict_label})",
            None,
            line.net,
        )


def daily_report_csv(report: DailyReport) -> str:
    """The report as one line per number: day, store, section, item, count, amount."""
    day = report.day.strftime("%d/%m/%Y")
    return csv_text(
        ["fecha", "sucursal", "seccion", "concepto", "cantidad", "importe"],
        (
            [
                day,
                spreadsheet_text(store),
                section,
                spreadsheet_text(item),
                "" if count is None else count,
                format_decimal_es(amount),
            ]
            for store, section, item, count, amount in _report_lines(report)
        ),
    )


def _resumen_sheet(workbook: Workbook) -> XlsxSheet:
    """The Resumen sheet of a day and of a period: one row per store and day, then the totals."""
    return XlsxSheet(
        workbook.create_sheet("Resumen"),
        [
            "Fecha",
            "Sucursal",
            "Cobros",
            "Importe cobros",
            "Anulaciones",
            "Importe anulaciones",
            "Devoluciones",
            "Importe devoluciones",
            "Neto",
            "Rechazados",
            "Con error",
            "Cancelados",
        ],
        money_columns={4, 6, 8, 9},
        widths=[12, 24, 9, 16, 12, 18, 13, 20, 16, 11, 10, 11],
    )


def _resumen(workbook: Workbook, report: DailyReport) -> None:
    sheet = _resumen_sheet(workbook)
    rows = [(section.store.name, section.totals) for section in report.stores]
    rows.append(("Total", report.overall))
    for name, totals in rows:
        sheet.append(
            [
                totals.day,
                name,
                totals.approved_count,
                totals.approved_amount,
                totals.reversal_count,
                totals.reversal_amount,
                totals.refund_count,
                totals.refund_amount,
                totals.net,
                totals.declined_count,
                totals.failed_count,
                totals.cancelled_count,
            ],
            # The last row is the total: its name in bold.
            bold_columns=frozenset({2}) if name == "Total" else frozenset(),
        )
    sheet.append([])
    sheet.append(["", "Sucursal", "Desglose", "Concepto", "Cantidad", "Importe"], bold=True)
    for store, section, item, count, amount in _report_lines(report):
        if section in ("Marca", "Crédito/débito", "Cuotas"):
            sheet.append(["", store, section, item, count, amount])


def _operaciones(workbook: Workbook, operations: QuerySet) -> None:
    sheet = XlsxSheet(
        workbook.create_sheet("Operaciones"),
        [
            "Hora",
            "Sucursal",
            "Terminal",
            "Tipo",
            "Estado",
            "Marca",
            "Crédito/débito",
            "Últimos 4",
            "Cuotas",
            "Importe",
            "Autorización",
            "Cupón",
            "Lote",
            "Referencia",
            "ID",
        ],
        money_columns={10},
        widths=[20, 22, 11, 13, 18, 14, 14, 10, 8, 14, 13, 10, 7, 20, 38],
    )
    for intent in operations.iterator(chunk_size=500):
        sheet.append(
            [
                local_naive(intent.done_at, intent.store),
                intent.store.name,
                intent.terminal.terminal_id if intent.terminal else "",
                intent.get_kind_display(),
                intent.get_state_display(),
                brand_label(intent.card_brand, intent.card_brand_code)
                if intent.card_brand or intent.card_brand_code
                else "",
                payment_type_label(intent.payment_type) if intent.payment_type else "",
                intent.card_last_four,
                intent.installments,
                intent.effective_amount,
                intent.authorization_code,
                intent.ticket_number,
                intent.batch_number,
                intent.reference,
                str(intent.public_id),
            ]
        )


def _difference_text(difference: BatchDifference) -> str:
    if difference.detail:
        return f"{difference.line}: {difference.detail}" if difference.line else difference.detail
    return (
        f"{difference.line}: portal {difference.portal_count} / "
        f"{format_decimal_es(difference.portal_amount)}, ticket {difference.ticket_count} / "
        f"{format_decimal_es(difference.ticket_amount)}"
    )


def _lotes(workbook: Workbook, report: DailyReport) -> None:
    sheet = XlsxSheet(
        workbook.create_sheet("Lotes"),
        [
            "Sucursal",
            "Terminal",
            "Lote",
            "Cierre",
            "Conciliación",
            "Bruto",
            "Anulaciones",
            "Devoluciones",
            "Neto",
            "Diferencias",
        ],
        money_columns={6, 7, 8, 9},
        widths=[22, 11, 7, 20, 20, 16, 14, 14, 16, 60],
    )
    for line in report.batches:
        sheet.append(
            [
                line.store.name,
                line.terminal.terminal_id if line.terminal else "",
                line.batch_number,
                local_naive(line.closed_at, line.store),
                line.verdict_label,
                line.gross,
                line.reversal_amount,
                line.refund_amount,
                line.net,
                "; ".join(_difference_text(d) for d in line.differences),
            ]
        )


def daily_report_xlsx(report: DailyReport, *, operations: QuerySet) -> IO[bytes]:
    """The report as a workbook: Resumen (totals and breakdowns), Operaciones (every intent of
    the day, `reporting.daily.daily_report_operations`, read in chunks) and Lotes (the batches
    closed). Written in write-only mode to a temporary file, rewound: stream it."""
    workbook = Workbook(write_only=True)
    _resumen(workbook, report)
    _operaciones(workbook, operations)
    _lotes(workbook, report)
    return workbook_file(workbook)


# --- A period (a merchant-month) -----------------------------------------------------------------


_PERIOD_COUNTS = (
    "approved_count",
    "approved_amount",
    "reversal_count",
    "reversal_amount",
    "refund_count",
    "refund_amount",
)
_PERIOD_FAILURES = ("declined_count", "failed_count", "cancelled_count")


def _period_row(day, name: str, totals: DayTotals) -> list:
    return [
        day,
        name,
        *(getattr(totals, f) for f in _PERIOD_COUNTS),
        totals.net,
        *(getattr(totals, f) for f in _PERIOD_FAILURES),
    ]


def period_report_xlsx(
    *,
    stores: list[Store],
    per_day: dict[dt.date, tuple[dict[int, DayTotals], DayTotals]],
    operations: QuerySet,
) -> IO[bytes]:
    """A period as a workbook: Resumen (each day's totals per store and all together, then the
    period's total; from `reporting.totals.range_totals`, one query) and Operaciones (every
    intent of the period, read in chunks). Write-only to a temporary file: a merchant-month of
    hundreds of thousands of rows keeps memory bounded. Stream it."""
    workbook = Workbook(write_only=True)
    sheet = _resumen_sheet(workbook)
    period = DayTotals(store=None, day=min(per_day) if per_day else timezone.localdate())
    for day in sorted(per_day):
        per_store, overall = per_day[day]
        for store in stores:
            sheet.append(_period_row(day, store.name, per_store[store.pk]))
        sheet.append(_period_row(day, "Total del día", overall), bold_columns=frozenset({2}))
        for name in (*_PERIOD_COUNTS, *_PERIOD_FAILURES):
            setattr(period, name, getattr(period, name) + getattr(overall, name))
    sheet.append(_period_row("", "Total del período", period), bold=True)
    _operaciones(workbook, operations)
    return workbook_file(workbook)
