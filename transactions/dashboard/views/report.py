"""Daily settlement report ("Reporte diario"): the page, the same day as CSV and XLSX, and a
period (up to a quarter: a merchant-month is the usual) as one XLSX.

The numbers come from `transactions.reporting.daily` and the files from
`transactions.reporting.exports`; this module only reads the query string and applies scope and
role (a store outside the user's scope is 404, a store where the role may not see reports is
403).
"""

import datetime as dt
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from stores.models import Store
from stores.roles import Action
from stores.selectors import store_get_for_user, store_list_for_user
from transactions.reporting import daily, exports, kept
from transactions.reporting.deposits import deposits_report
from transactions.reporting.totals import local_day, range_totals

# The longest period one workbook covers: a quarter (a merchant-month is the usual ask).
PERIOD_MAX_DAYS = 92


class DailyReportForm(forms.Form):
    """The day asked for. The store is resolved apart (scope and role decide 404 or 403, not a
    form error)."""

    fecha = forms.DateField(
        label="Fecha",
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "invalid": "Ingresá una fecha válida con el formato dd/mm/aaaa, por ejemplo 27/11/2026."
        },
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
        return max(local_day(store=s) for s in self.stores)

    @property
    def slug(self) -> str:
        return slugify(self.selected.code or self.selected.name) if self.selected else "todas"


def _read(request) -> tuple[_Scope, DailyReportForm]:
    scope = _Scope(request)
    data = {"fecha": request.GET["fecha"]} if request.GET.get("fecha") else None
    # Unbound, the field shows the day the report will be of: today in the first store.
    today = local_day(store=scope.stores[0])
    form = DailyReportForm(data, latest_day=scope.latest_day, initial={"fecha": today})
    return scope, form


def _day(form: DailyReportForm) -> dt.date | None:
    """The day asked for, or None for each store's own today."""
    return form.cleaned_data.get("fecha") if form.is_bound else None


def _kept_report(scope: _Scope, public_id: str):
    """A kept report the user may read (of the stores in scope), or 404."""
    try:
        wanted = uuid.UUID(public_id)
    except ValueError:
        raise Http404("No hay un reporte guardado con ese identificador.") from None
    found = kept.kept_reports_for_stores(stores=scope.stores, limit=1, public_id=wanted)
    if not found:
        raise Http404("No hay un reporte guardado con ese identificador.")
    return found[0]


@login_required
@require_GET
def daily_report(request):
    scope, form = _read(request)
    report = None
    if not form.is_bound or form.is_valid():
        report = daily.daily_report(stores=scope.stores, day=_day(form))
    query = {"fecha": report.day.isoformat()} if report else {}
    if scope.selected:
        query["sucursal"] = str(scope.selected.public_id)
    kept_reports = kept.kept_reports_for_stores(stores=scope.stores)
    shown_kept = (
        _kept_report(scope, request.GET["guardado"]) if request.GET.get("guardado") else None
    )
    return render(
        request,
        "transactions/report.html",
        {
            "form": form,
            "report": report,
            "permitted": scope.permitted,
            "selected": scope.selected,
            "export_query": "&".join(f"{k}={v}" for k, v in query.items()),
            "kept_reports": kept_reports,
            "shown_kept": shown_kept,
            "receives_email": kept.receives_report_email(user=request.user),
            # The settlement partial (gross → fees → withholdings → net, expected deposits).
            "deposits": deposits_report(stores=scope.stores, day=report.day) if report else None,
        },
    )


@login_required
@require_POST
def report_email_preference(request):
    """A person's own choice to receive (or not) the daily report by e-mail."""
    _Scope(request)  # only someone who may see reports has a choice to make (else 403)
    receive = request.POST.get("recibir") == "1"
    kept.report_email_opt_out_set(user=request.user, receive=receive)
    messages.success(
        request,
        "Vas a recibir el reporte diario por correo."
        if receive
        else "Listo: ya no vas a recibir el reporte diario por correo.",
    )
    return redirect("dashboard:daily_report")


def _export_request(request):
    """Scope and day of an export (None: each store's today), or a 400 answer for a bad day."""
    scope, form = _read(request)
    if form.is_bound and not form.is_valid():
        error = HttpResponseBadRequest(
            " ".join(form.errors["fecha"]), content_type="text/plain; charset=utf-8"
        )
        return scope, None, error
    return scope, _day(form), None


def _export_report(request):
    """Scope, day and report of an export, or a 400 answer for a bad day."""
    scope, day, error = _export_request(request)
    if error:
        return scope, None, None, error
    return scope, day, daily.daily_report(stores=scope.stores, day=day), None


def _filename(scope: _Scope, day: dt.date, extension: str) -> str:
    return f"reporte-{day.isoformat()}-{scope.slug}.{extension}"


@login_required
@require_GET
def daily_report_csv(request):
    scope, _, report, error = _export_report(request)
    if error:
        return error
    response = HttpResponse(
        exports.daily_report_csv(report), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(scope, report.day, "csv")}"'
    )
    return response


@login_required
@require_GET
def daily_report_operations_csv(request):
    """The detail of the day (the approved operations, which sum to the net), streamed: the
    same columns and values as the XLSX's Operaciones sheet. The detail needs no totals: the
    report is not computed (only its day, for the file name)."""
    scope, day, error = _export_request(request)
    if error:
        return error
    operations = daily.daily_report_operations(stores=scope.stores, day=day)
    response = StreamingHttpResponse(
        exports.operations_csv_lines(operations), content_type="text/csv; charset=utf-8"
    )
    filename = _filename(scope, daily.report_day(scope.stores, day), "csv").replace(
        "reporte-", "operaciones-", 1
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def daily_report_xlsx(request):
    scope, day, report, error = _export_report(request)
    if error:
        return error
    operations = daily.daily_report_operations(stores=scope.stores, day=day)
    not_approved = daily.daily_report_operations(stores=scope.stores, day=day, approved=False)
    # Streamed from a temporary file (closed by the response): memory stays bounded.
    return FileResponse(
        exports.daily_report_xlsx(report, operations=operations, not_approved=not_approved),
        as_attachment=True,
        filename=_filename(scope, report.day, "xlsx"),
        content_type=exports.XLSX_CONTENT_TYPE,
    )


class PeriodForm(forms.Form):
    """A period of local days, both included, that has already begun and spans a quarter at most."""

    desde = forms.DateField(
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={
            "required": "Indicá desde qué día (desde=AAAA-MM-DD).",
            "invalid": "«desde» no es una fecha válida: escribila como 2026-11-01 o 01/11/2026.",
        },
    )
    hasta = forms.DateField(
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={
            "required": "Indicá hasta qué día (hasta=AAAA-MM-DD).",
            "invalid": "«hasta» no es una fecha válida: escribila como 2026-11-30 o 30/11/2026.",
        },
    )

    def __init__(self, *args, latest_day: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.latest_day = latest_day

    def clean(self):
        data = super().clean()
        first, last = data.get("desde"), data.get("hasta")
        if first is None or last is None:
            return data
        if first > last:
            raise forms.ValidationError("«desde» es posterior a «hasta»: invertí las fechas.")
        if first > self.latest_day:
            raise forms.ValidationError("Ese período todavía no empezó.")
        data["hasta"] = min(last, self.latest_day)
        if (data["hasta"] - first).days + 1 > PERIOD_MAX_DAYS:
            raise forms.ValidationError(
                f"El período es de {PERIOD_MAX_DAYS} días como máximo: pedilo en partes."
            )
        return data


@login_required
@require_GET
def period_report_xlsx(request):
    """Every day of a period, per store and together, and every operation, as one workbook
    streamed from a temporary file (bounded memory whatever the period's size)."""
    scope = _Scope(request)
    form = PeriodForm(request.GET, latest_day=scope.latest_day)
    if not form.is_valid():
        messages = [m for errors in form.errors.values() for m in errors]
        return HttpResponseBadRequest(" ".join(messages), content_type="text/plain; charset=utf-8")
    first, last = form.cleaned_data["desde"], form.cleaned_data["hasta"]
    return FileResponse(
        exports.period_report_xlsx(
            stores=scope.stores,
            per_day=range_totals(stores=scope.stores, first=first, last=last, breakdowns=False),
            operations=daily.period_operations(stores=scope.stores, first=first, last=last),
            not_approved=daily.period_operations(
                stores=scope.stores, first=first, last=last, approved=False
            ),
        ),
        as_attachment=True,
        filename=f"reporte-{first.isoformat()}-a-{last.isoformat()}-{scope.slug}.xlsx",
        content_type=exports.XLSX_CONTENT_TYPE,
    )
