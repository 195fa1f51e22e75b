"""Intents list with filters and pagination, and the same selection as streaming CSV."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from stores.selectors import store_list_for_user, terminal_list_for_user
from transactions import selectors
from transactions.dashboard.filters import IntentFilter
from transactions.money import format_decimal_es

PAGE_SIZE = 50


def _filtered(request) -> IntentFilter:
    queryset = (
        selectors.intent_list_for_user(user=request.user)
        .select_related("store", "terminal")
        .order_by("-created_at", "-pk")
    )
    return IntentFilter(
        request.GET or None,
        queryset=queryset,
        stores=store_list_for_user(user=request.user),
        terminals=terminal_list_for_user(user=request.user),
    )


@login_required
@require_GET
def intent_list(request):
    intent_filter = _filtered(request)
    page = Paginator(intent_filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "transactions/intent_list.html",
        {"filter": intent_filter, "page": page, "query": query.urlencode()},
    )


class _Echo:
    """A file-like object whose write() returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


CSV_COLUMNS = [
    "id",
    "fecha",
    "sucursal",
    "terminal",
    "tipo",
    "estado",
    "importe",
    "cuotas",
    "marca",
    "ultimos_4",
    "autorizacion",
    "cupon",
    "lote",
    "referencia",
    "estado_prisma",
]


def _cell(value) -> str:
    """Text a spreadsheet will not run: a leading =, +, -, @ would make it a formula."""
    text = str(value or "")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(queryset):
    writer = csv.writer(_Echo(), delimiter=";")
    # A BOM so spreadsheet programs read the accents; ';' because ',' is the decimal separator.
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    for intent in queryset.iterator(chunk_size=500):
        yield writer.writerow(
            [
                str(intent.public_id),
                timezone.localtime(intent.created_at).strftime("%d/%m/%Y %H:%M:%S"),
                _cell(intent.store.name),
                intent.terminal.terminal_id if intent.terminal else "",
                intent.get_kind_display(),
                intent.get_state_display(),
                format_decimal_es(intent.amount, thousands=False),
                intent.installments,
                _cell(intent.card_brand),
                intent.card_last_four,
                intent.authorization_code,
                intent.ticket_number,
                intent.batch_number or "",
                _cell(intent.reference),
                _cell(intent.provider_status),
            ]
        )


@login_required
@require_GET
def intent_export_csv(request):
    intent_filter = _filtered(request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        _csv_rows(intent_filter.qs), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="intenciones-{stamp}.csv"'
    return response
