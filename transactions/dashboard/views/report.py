"""Daily settlement report ("Reporte diario"): the page, and the same day as CSV and XLSX.

The numbers come from `transactions.reports.daily_report`; this module only reads the query
string, applies scope and role (a store outside the user's scope is 404, a store where the role
may not see reports is 403) and lays the report out for people and spreadsheets.
"""

import csv
import datetime as dt
import io
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from stores.models import Store
from stores.roles import Action
from stores.selectors import store_get_for_user, store_list_for_user
from transactions import reports
from transactions.money import format_decimal_es

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm:ss"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DailyReportForm(forms.Form):
    """The day asked for. The store is resolved apart (scope and role decide 404 or 403, not a
    form error)."""

    fecha = forms.DateField(
        label="Fecha",
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Ingresá una fecha válida, por ejemplo 2026-11-27."},
    )

    def __init__(self, *args, latest_day: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.latest_day = latest_day
        self.fields["fecha"].widget.attrs["max"] = latest_day.isoformat()

    def clean_fecha(self):
        day = self.cleaned_data.get("fecha")
        if day is not None and day > self.latest_day:
            raise forms.ValidationError("Ese día todavía no llegó: elegí hoy o un día anterior.")
        return day


class _Scope:
    """The stores the report covers, and the ones the user may pick from."""

    def __init__(self, request):
        self.permitted: list[Store] = list(
            store_list_for_user(user=request.user, action=Action.VIEW_REPORTS)
        )
        self.selected: Store | None = None
        public_id = request.GET.get("sucursal") or ""
        if public_id:
            store = store_get_for_user(user=request.user, public_id=public_id)  # 404 outside
            if store.pk not in {s.pk for s in self.permitted}:
                raise PermissionDenied(f"Tu rol no permite: {Action.VIEW_REPORTS.label}.")
            self.selected = store
        elif not self.permitted:
            raise PermissionDenied(f"Tu rol no permite: {Action.VIEW_REPORTS.label}.")
        self.stores = [self.selected] if self.selected else self.permitted

    @property
    def latest_day(self) -> dt.date:
        """Today in the store whose today is the latest (zones east of the site's come first)."""
        return max(reports.local_day(store=s) for s in self.stores)

    @property
    def slug(self) -> str:
        return slugify(self.selected.code or self.selected.name) if self.selected else "todas"


def _read(request) -> tuple[_Scope, DailyReportForm]:
    scope = _Scope(request)
    data = {"fecha": request.GET["fecha"]} if request.GET.get("fecha") else None
    # Unbound, the field shows the day the report will be of: today in the first store.
    today = reports.local_day(store=scope.stores[0])
    form = DailyReportForm(data, latest_day=scope.latest_day, initial={"fecha": today})
    return scope, form


def _day(form: DailyReportForm) -> dt.date | None:
    """The day asked for, or None for each store's own today."""
    return form.cleaned_data.get("fecha") if form.is_bound else None


@login_required
@require_GET
def daily_report(request):
    scope, form = _read(request)
    report = None
    if not form.is_bound or form.is_valid():
        report = reports.daily_report(stores=scope.stores, day=_day(form))
    query = {"fecha": report.day.isoformat()} if report else {}
    if scope.selected:
        query["sucursal"] = str(scope.selected.public_id)
    return render(
        request,
        "transactions/report.html",
        {
            "form": form,
            "report": report,
            "permitted": scope.permitted,
            "selected": scope.selected,
            "export_query": "&".join(f"{k}={v}" for k, v in query.items()),
        },
    )


def _export_report(request):
    """Scope, day and report of an export, or a 400 answer for a bad day."""
    scope, form = _read(request)
    if form.is_bound and not form.is_valid():
        error = HttpResponseBadRequest(
            " ".join(form.errors["fecha"]), content_type="text/plain; charset=utf-8"
        )
        return scope, None, None, error
    day = _day(form)
    return scope, day, reports.daily_report(stores=scope.stores, day=day), None


def _filename(scope: _Scope, report: reports.DailyReport, extension: str) -> str:
    return f"reporte-{report.day.isoformat()}-{scope.slug}.{extension}"


# --- CSV ---------------------------------------------------------------------------------------


def _text(value) -> str:
    """Text a spreadsheet will not run: a leading =, +, -, @ would make it a formula."""
    text = str(value or "")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _summary_rows(label: str, totals: reports.ReportTotals):
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


def _report_lines(report: reports.DailyReport):
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


@login_required
@require_GET
def daily_report_csv(request):
    scope, _, report, error = _export_report(request)
    if error:
        return error
    buffer = io.StringIO()
    # A BOM so spreadsheet programs read the accents; ';' because ',' is the decimal separator.
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["fecha", "sucursal", "seccion", "concepto", "cantidad", "importe"])
    day = report.day.strftime("%d/%m/%Y")
    for store, section, item, count, amount in _report_lines(report):
        writer.writerow(
            [
                day,
                _text(store),
                section,
                _text(item),
                "" if count is None else count,
                format_decimal_es(amount),
            ]
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(scope, report, "csv")}"'
    return response


# --- XLSX --------------------------------------------------------------------------------------


class _Sheet:
    """Appends rows to a worksheet: strings stay strings (openpyxl would turn a leading '=' into
    a formula), Decimal amounts become numbers with a money format (never through float)."""

    def __init__(self, worksheet, headers: list[str], money_columns: set[int], widths: list[int]):
        self.ws = worksheet
        self.money_columns = money_columns
        self.row = 0
        self.append(headers)
        for cell in self.ws[1]:
            cell.font = Font(bold=True)
        self.ws.freeze_panes = "A2"
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width

    def append(self, values) -> None:
        self.row += 1
        for column, value in enumerate(values, start=1):
            cell = self.ws.cell(row=self.row, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            elif isinstance(value, Decimal) or (column in self.money_columns and value is not None):
                cell.number_format = MONEY_FORMAT
            elif isinstance(value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT


def _local_naive(value: dt.datetime | None, store: Store) -> dt.datetime | None:
    """Excel has no time zones: the store's wall-clock time, without tzinfo."""
    return value.astimezone(store.tzinfo).replace(tzinfo=None) if value else None


def _resumen(workbook: Workbook, report: reports.DailyReport) -> None:
    sheet = _Sheet(
        workbook.active,
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
    sheet.ws.title = "Resumen"
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
            ]
        )
    sheet.ws.cell(row=sheet.row, column=2).font = Font(bold=True)
    sheet.append([])
    sheet.append(["", "Sucursal", "Desglose", "Concepto", "Cantidad", "Importe"])
    for cell in sheet.ws[sheet.row]:
        cell.font = Font(bold=True)
    for store, section, item, count, amount in _report_lines(report):
        if section in ("Marca", "Crédito/débito", "Cuotas"):
            sheet.append(["", store, section, item, count, amount])


def _operaciones(workbook: Workbook, stores: list[Store], day: dt.date | None) -> None:
    sheet = _Sheet(
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
    operations = reports.daily_report_operations(stores=stores, day=day)
    for intent in operations.iterator(chunk_size=500):
        sheet.append(
            [
                _local_naive(intent.done_at, intent.store),
                intent.store.name,
                intent.terminal.terminal_id if intent.terminal else "",
                intent.get_kind_display(),
                intent.get_state_display(),
                reports.brand_label(intent.card_brand, intent.card_brand_code)
                if intent.card_brand or intent.card_brand_code
                else "",
                reports.payment_type_label(intent.payment_type) if intent.payment_type else "",
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


def _lotes(workbook: Workbook, report: reports.DailyReport) -> None:
    sheet = _Sheet(
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
                _local_naive(line.closed_at, line.store),
                line.verdict_label,
                line.gross,
                line.reversal_amount,
                line.refund_amount,
                line.net,
                "; ".join(_difference_text(d) for d in line.differences),
            ]
        )


def _difference_text(difference: reports.BatchDifference) -> str:
    if difference.detail:
        return f"{difference.line}: {difference.detail}" if difference.line else difference.detail
    return (
        f"{difference.line}: portal {difference.portal_count} / "
        f"{format_decimal_es(difference.portal_amount)}, ticket {difference.ticket_count} / "
        f"{format_decimal_es(difference.ticket_amount)}"
    )


@login_required
@require_GET
def daily_report_xlsx(request):
    scope, day, report, error = _export_report(request)
    if error:
        return error
    workbook = Workbook()
    _resumen(workbook, report)
    _operaciones(workbook, scope.stores, day)
    _lotes(workbook, report)
    workbook.properties.creator = "ECR Portal"
    workbook.properties.created = timezone.now().replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(scope, report, "xlsx")}"'
    return response
