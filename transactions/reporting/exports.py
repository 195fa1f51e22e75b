"""Spreadsheet files: how every export of the portal writes CSV and XLSX, the escaping that keeps
a cell from running as a formula, and the daily report's two documents.

Every CSV of the portal starts with a BOM (so spreadsheet programs read the accents) and is
separated by ';' (',' is the decimal separator in es-AR). In XLSX, strings stay strings and
Decimal amounts become numbers with a money format, never through float.
"""

import csv
import datetime as dt
import functools
import io
import tempfile
import zoneinfo
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
from transactions.reporting.totals import ZERO, DayTotals, payment_type_label
from transactions.states import Kind, State

BOM = "\ufeff"
DELIMITER = ";"
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm:ss"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The first characters that make a spreadsheet cell a formula.
_FORMULA_STARTS = "=+-@\t\r"


def spreadsheet_text(value) -> str:
    """Text a spreadsheet will not run: a leading =, +, -, @ (or tab, carriage return) would make
    it a formula, so it gets a leading apostrophe. Use it on every cell people or the provider
    typed (names, references, brands, statuses)."""
    # A str as it is (most cells; a merchant-day's CSV asks ~90k times): no str() of it.
    text = value if type(value) is str else str(value or "")
    return "'" + text if text and text[0] in _FORMULA_STARTS else text


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


# Rows per piece of a streamed CSV: one piece per row made the response machinery (encoding,
# the iterator wrappers) cost as much as writing the rows; a few hundred rows is a few tens of kB.
CSV_ROWS_PER_PIECE = 256


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """A CSV document in pieces of CSV_ROWS_PER_PIECE rows, for a streaming response (exports
    that grow with the ledger): memory stays bounded by a piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER)
    buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % CSV_ROWS_PER_PIECE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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
            is_bold = bold or column in bold_columns
            if (
                not is_bold
                and (
                    value is None
                    or isinstance(value, bool | int)
                    or (isinstance(value, str) and value[:1] != "=")
                )
                and column not in self.money_columns
            ):
                # A plain value: openpyxl writes it through one shared cell (a new cell object
                # per value is most of the cost of a large sheet). A string starting with "="
                # would become a formula there, so it takes the typed path below.
                cells.append(value)
                continue
            cell = WriteOnlyCell(self.ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            elif isinstance(value, Decimal) or (column in self.money_columns and value is not None):
                cell.number_format = MONEY_FORMAT
            elif isinstance(value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT
            if is_bold:
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
#
# One shape for the CSV and the XLSX of the same document (issue 13, item 3): the same columns in
# the same order, the business time (the provider's transaction time, store-local) in "Hora" on
# the page and in every file, brands under `brand_label` (a reversal's "VI" is "VISA"), and in
# every CSV amounts as `1520,50` (no thousands separator, so spreadsheets read them as numbers;
# the XLSX carries numbers). Reversals and refunds are negative in the detail and the summary,
# so a SUM of the detail's amounts is the net.


def csv_amount(value) -> str:
    """An amount in a CSV of the portal: `-1520,50` (es-AR decimal comma, no thousands)."""
    return format_decimal_es(value, thousands=False)


def csv_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def csv_datetime(value: dt.datetime | None) -> str:
    return value.strftime("%d/%m/%Y %H:%M:%S") if value else ""


def signed_amount(row: dict) -> Decimal:
    """What an operation moved for the store: a reversal or refund takes money back."""
    amount = row["effective_amount"] or ZERO
    if not isinstance(amount, Decimal):  # SQLite sums and coalesces decimals as floats
        amount = Decimal(str(amount))
    amount = amount.quantize(Decimal("0.01"))
    return -amount if row["kind"] in (Kind.REVERSAL, Kind.REFUND) else amount


def _from_payment(row: dict, name: str):
    """A follow-up's card fields fall back to its payment's (a reversal's answer may not repeat
    them): the detail row of a reversal reads like the payment it annuls."""
    value = row[name]
    if value in ("", None) and row["original_id"] is not None:
        return row[f"orig_{name}"]
    return value


_KIND_LABELS = dict(Kind.choices)
_STATE_LABELS = dict(State.choices)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


OPERATION_HEADERS = [
    "Fecha",
    "Hora",
    "Sucursal",
    "Terminal",
    "Lote",
    "Tipo",
    "Estado",
    "Marca",
    "Crédito/débito",
    "Cuotas",
    "Últimos 4",
    "Autorización",
    "Cupón",
    "Importe",
    "ID de pago Prisma",
    "Pago original",
    "Referencia",
    "ID",
]
_OPERATION_MONEY = {14}
_OPERATION_WIDTHS = [11, 20, 22, 11, 7, 13, 12, 14, 14, 8, 10, 13, 10, 14, 36, 36, 20, 38]


_CARD_FIELDS = ("card_brand", "card_brand_code", "payment_type", "installments", "card_last_four")


def _card_fields(row: dict) -> tuple:
    """(brand, brand code, payment type, installments, last four) of a detail row, a
    follow-up's falling back to its payment's (`_from_payment`). A payment has no original to
    fall back to: its own, read at once (most of a day's thousands of rows)."""
    if row["original_id"] is None:
        return (
            row["card_brand"],
            row["card_brand_code"],
            row["payment_type"],
            row["installments"],
            row["card_last_four"],
        )
    return tuple(_from_payment(row, name) for name in _CARD_FIELDS)


def _wall_clock(row: dict) -> dt.datetime | None:
    """The row's time on the store's wall clock: `daily.LocalTime` gives it naive on PostgreSQL,
    aware on SQLite."""
    moment = row["local_time"]
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(_zone(row["store__time_zone"])).replace(tzinfo=None)
    return moment


def operation_values(row: dict) -> list:
    """One detail row (a dict of `daily.OPERATION_FIELDS`) with typed values (dates, Decimal):
    the XLSX writes them as they are, the CSV through `csv_cell`."""
    brand, code, payment_type, installments, last_four = _card_fields(row)
    return [
        row["business_day"],
        _wall_clock(row),
        row["store__name"],
        row["terminal__terminal_id"] or "",
        row["batch_number"],
        _KIND_LABELS.get(row["kind"], row["kind"]),
        _STATE_LABELS.get(row["state"], row["state"]),
        brand_label(brand, code) if brand or code else "",
        payment_type_label(payment_type) if payment_type else "",
        installments,
        last_four,
        row["authorization_code"],
        row["ticket_number"],
        signed_amount(row),
        row["provider_id"],
        row["orig_provider_id"] or "",
        row["reference"],
        str(row["public_id"]),
    ]


def csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return csv_amount(value)
    if isinstance(value, dt.datetime):
        return csv_datetime(value)
    if isinstance(value, dt.date):
        return csv_date(value)
    if isinstance(value, str):
        return spreadsheet_text(value)
    return value


@functools.lru_cache(maxsize=512)
def _csv_day(value: dt.date) -> str:
    return csv_date(value)


def csv_moment(value: dt.datetime | None) -> str:
    # As csv_datetime, without strftime's cost (a merchant-day is ~9k rows).
    if value is None:
        return ""
    v = value
    return f"{v.day:02d}/{v.month:02d}/{v.year:04d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"


def csv_cents(amount: Decimal | None) -> str:
    """`csv_amount`'s text for a Decimal already in cents (a stored amount, `signed_amount`),
    without its checks: the CSVs of a day's thousands of rows call it once per row."""
    if amount is None:
        return ""
    if not amount:
        return "0,00"
    return f"{amount:.2f}".replace(".", ",")


def operation_csv_row(row: dict) -> list:
    """One detail row as the CSV writes it: `operation_values`, each column formatted as
    `csv_cell` formats its type (a test holds them equal), chosen per column instead of per
    cell. Text the portal writes itself (kind and state labels, the public id) cannot start a
    formula; text from people or the provider goes through `spreadsheet_text`.

    It formats the row's values itself instead of `operation_values`' list (a merchant-day is
    ~9k rows): the same values, from the same helpers, in about two thirds of the time."""
    text = spreadsheet_text
    brand, code, payment_type, installments, last_four = _card_fields(row)
    day, kind, state = row["business_day"], row["kind"], row["state"]
    batch = row["batch_number"]
    return [
        _csv_day(day) if day else "",
        csv_moment(_wall_clock(row)),
        text(row["store__name"]),
        text(row["terminal__terminal_id"] or ""),
        "" if batch is None else batch,
        _KIND_LABELS.get(kind, kind),
        _STATE_LABELS.get(state, state),
        text(brand_label(brand, code)) if brand or code else "",
        text(payment_type_label(payment_type)) if payment_type else "",
        "" if installments is None else installments,
        text(last_four),
        text(row["authorization_code"]),
        text(row["ticket_number"]),
        csv_cents(signed_amount(row)),
        text(row["provider_id"]),
        text(row["orig_provider_id"] or ""),
        text(row["reference"]),
        str(row["public_id"]),
    ]


def operations_csv_lines(operations: QuerySet) -> Iterator[str]:
    """The detail as CSV, streamed: the XLSX's Operaciones columns, the same values."""
    return csv_lines(
        OPERATION_HEADERS,
        (operation_csv_row(i) for i in operations.iterator(chunk_size=2000)),
    )


SUMMARY_HEADERS = ["Fecha", "CUIT", "Sucursal", "Sección", "Concepto", "Cantidad", "Importe"]


def _summary_rows(totals: DayTotals):
    """(section, item, count, amount) lines of one scope: the outcomes (reversals and refunds
    negative, so they add up to the net), the failures counted apart, then every breakdown
    (a `Line` breakdown's amount is its net)."""
    yield "Cobros", "Aprobados", totals.approved_count, totals.approved_amount
    yield "Anulaciones", "Aprobadas", totals.reversal_count, -totals.reversal_amount
    yield "Devoluciones", "Aprobadas", totals.refund_count, -totals.refund_amount
    yield "Neto", "Cobros − anulaciones − devoluciones", None, totals.net
    yield "No aprobados", "Rechazados", totals.declined_count, None
    yield "No aprobados", "Con error", totals.failed_count, None
    yield "No aprobados", "Cancelados", totals.cancelled_count, None
    for brand in totals.brands:
        yield "Marca", brand.brand, brand.count, brand.amount
    for bucket in totals.payment_types:
        yield "Crédito/débito", bucket.label, bucket.count, bucket.amount
    for bucket in totals.installments:
        yield "Cuotas", bucket.label, bucket.count, bucket.amount
    for title, lines in (
        ("Marca × tipo × cuotas (neto)", totals.combinations),
        ("Terminal (neto)", totals.terminals),
        ("Lote (neto)", totals.batches),
        ("Quién cobró (neto)", totals.origins),
    ):
        for line in lines:
            yield title, line.label, line.count, line.net


def _scopes(report: DailyReport, *, overall: bool = True):
    """(cuit, name, totals) of every scope of the report: each store, the subtotal of each
    merchant (when the report has several), and all of them."""
    for section in report.merchants:
        cuit = section.merchant.cuit if section.merchant else ""
        for store in section.stores:
            yield cuit, store.store.name, store.totals
        if report.several_merchants:
            yield cuit, f"Subtotal {section.merchant.legal_name}", section.totals
    if overall and len(report.stores) > 1:
        yield "", "Todas", report.overall


def summary_values(report: DailyReport):
    """The summary as typed rows (SUMMARY_HEADERS), the same for the CSV and the XLSX."""
    for cuit, name, totals in _scopes(report):
        for section, item, count, amount in _summary_rows(totals):
            yield [report.day, cuit, name, section, item, count, amount]
    for store_section in report.stores:
        for line in store_section.batches:
            yield _batch_summary(report, store_section.store, line)


def _batch_summary(report: DailyReport, store: Store, line) -> list:
    terminal = line.terminal.terminal_id if line.terminal else "sin terminal"
    return [
        report.day,
        store.merchant.cuit,
        store.name,
        "Lote cerrado",
        f"Terminal {terminal} lote {line.batch_number or '?'} ({line.verdict_label})",
        None,
        line.net,
    ]


def daily_report_csv(report: DailyReport) -> str:
    """The summary as one line per number (SUMMARY_HEADERS)."""
    return csv_text(SUMMARY_HEADERS, ([csv_cell(v) for v in row] for row in summary_values(report)))


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


def _resumen_row(day, name: str, totals: DayTotals) -> list:
    return [
        day,
        name,
        totals.approved_count,
        totals.approved_amount,
        totals.reversal_count,
        -totals.reversal_amount,
        totals.refund_count,
        -totals.refund_amount,
        totals.net,
        totals.declined_count,
        totals.failed_count,
        totals.cancelled_count,
    ]


def _resumen(workbook: Workbook, report: DailyReport) -> None:
    sheet = _resumen_sheet(workbook)
    for _cuit, name, totals in _scopes(report, overall=False):
        sheet.append(_resumen_row(totals.day, name, totals))
    sheet.append(_resumen_row(report.day, "Total", report.overall), bold_columns=frozenset({2}))
    sheet.append([])
    # The summary lines, as in the CSV (same columns, same order).
    sheet.append(SUMMARY_HEADERS, bold=True)
    for row in summary_values(report):
        sheet.append(row)


def _operations_sheet(workbook: Workbook, title: str, operations: QuerySet) -> None:
    sheet = XlsxSheet(
        workbook.create_sheet(title),
        OPERATION_HEADERS,
        money_columns=_OPERATION_MONEY,
        widths=_OPERATION_WIDTHS,
    )
    for row in operations.iterator(chunk_size=2000):
        sheet.append(operation_values(row))


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
                -line.reversal_amount if line.reversal_amount is not None else None,
                -line.refund_amount if line.refund_amount is not None else None,
                line.net,
                "; ".join(_difference_text(d) for d in line.differences),
            ]
        )


def daily_report_xlsx(
    report: DailyReport, *, operations: QuerySet, not_approved: QuerySet | None = None
) -> IO[bytes]:
    """The report as a workbook: Resumen (totals and every breakdown), Operaciones (the
    approved operations of the day, which sum to the net), No aprobadas (declined, failed and
    cancelled payments, counted apart) and Lotes (the batches closed). Written in write-only
    mode to a temporary file, rewound: stream it."""
    workbook = Workbook(write_only=True)
    _resumen(workbook, report)
    _operations_sheet(workbook, "Operaciones", operations)
    if not_approved is not None:
        _operations_sheet(workbook, "No aprobadas", not_approved)
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


def period_report_xlsx(
    *,
    stores: list[Store],
    per_day: dict[dt.date, tuple[dict[int, DayTotals], DayTotals]],
    operations: QuerySet,
    not_approved: QuerySet | None = None,
) -> IO[bytes]:
    """A period as a workbook: Resumen (each day's totals per store and all together, then the
    period's total; from `reporting.totals.range_totals`, one query), Operaciones (every
    approved operation of the period, read in chunks) and No aprobadas. Write-only to a
    temporary file: a merchant-month of hundreds of thousands of rows keeps memory bounded.
    Stream it."""
    workbook = Workbook(write_only=True)
    sheet = _resumen_sheet(workbook)
    period = DayTotals(store=None, day=min(per_day) if per_day else timezone.localdate())
    for day in sorted(per_day):
        per_store, overall = per_day[day]
        for store in stores:
            sheet.append(_resumen_row(day, store.name, per_store[store.pk]))
        sheet.append(_resumen_row(day, "Total del día", overall), bold_columns=frozenset({2}))
        for name in (*_PERIOD_COUNTS, *_PERIOD_FAILURES):
            setattr(period, name, getattr(period, name) + getattr(overall, name))
    sheet.append(_resumen_row("", "Total del período", period), bold=True)
    _operations_sheet(workbook, "Operaciones", operations)
    if not_approved is not None:
        _operations_sheet(workbook, "No aprobadas", not_approved)
    return workbook_file(workbook)
