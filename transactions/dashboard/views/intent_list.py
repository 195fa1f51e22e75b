"""Intents list with filters and pagination, and the same selection as streaming CSV."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Value
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from stores.selectors import store_list_for_user, terminal_list_for_user
from transactions import selectors
from transactions.dashboard.filters import IntentFilter
from transactions.reporting.breakdown import selection_totals
from transactions.reporting.daily import LocalTime
from transactions.reporting.exports import csv_cents, csv_lines, csv_moment, spreadsheet_text
from transactions.states import STATUS_LABELS, Kind, display_status

PAGE_SIZE = 50
# The list counts at most this many rows: past it the pager says "más de 10.000" and asks for a
# filter, so a year of history costs a page what a day costs (the count reads the index up to
# the cap, never the whole ledger).
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """A paginator whose count stops at `cap` (see COUNT_CAP); `capped` says it stopped."""

    def __init__(self, *args, cap: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.cap = COUNT_CAP if cap is None else cap

    @cached_property
    def count(self) -> int:
        # A queryset here (the filtered intents): slicing keeps the count a LIMITed subquery.
        return self.object_list[: self.cap + 1].count()  # type: ignore[attr-defined]

    @property
    def capped(self) -> bool:
        return self.count > self.cap


# What a row of the list shows (`_intent_rows.html`): a narrow row, not the 2.5 kB of receipts
# and provider fields, and no join to the original payment.
LIST_FIELDS = (
    "public_id",
    "created_at",
    "kind",
    "state",
    # What `Intent.status` reads ("Anulada", "Lote cerrado"...): on the row, no query per row.
    "followup_status",
    "resolution",
    "amount",
    "card_brand",
    "card_last_four",
    "reference",
    "needs_attention",
    "attention_reason",
    "store",
    "store__name",
    "terminal",
    "terminal__terminal_id",
)
# What a CSV row adds to it.
CSV_FIELDS = LIST_FIELDS + (
    "installments",
    "authorization_code",
    "ticket_number",
    "batch_number",
    "provider_status",
)


def _filtered(request, fields=LIST_FIELDS) -> IntentFilter:
    # Newest first: the `intent_created` index serves this order across the user's stores.
    queryset = (
        selectors.intent_list_for_user(user=request.user)
        .select_related(None)
        .select_related("store", "terminal")
        .only(*fields)
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
    page = CappedPaginator(intent_filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # The totals of the whole selection, not of the page: one aggregate, and only while the
    # selection is under the count's cap (past it the page already asks for a filter).
    totals = None if page.paginator.capped else selection_totals(intent_filter.qs)
    return render(
        request,
        "transactions/intent_list.html",
        {"filter": intent_filter, "page": page, "query": query.urlencode(), "totals": totals},
    )


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


# What a CSV row reads, straight from the cursor (`values_list`): building an intent, its store
# and its terminal for each of a day's ~10k rows was two thirds of the export's time.
_CSV_VALUES = (
    "public_id",
    "local_created",
    "store__name",
    "terminal__terminal_id",
    "kind",
    "state",
    "followup_status",
    "resolution",
    "amount",
    "installments",
    "card_brand",
    "card_last_four",
    "authorization_code",
    "ticket_number",
    "batch_number",
    "reference",
    "provider_status",
)
_KIND_LABELS = {value: str(label) for value, label in Kind.choices}


def _csv_rows(queryset):
    kinds = _KIND_LABELS
    zone = timezone.get_current_timezone()  # once, not `localtime` per row
    rows = queryset.annotate(
        local_created=LocalTime("created_at", Value(timezone.get_current_timezone_name()))
    ).values_list(*_CSV_VALUES)
    for (
        public_id,
        created_at,
        store_name,
        terminal_id,
        kind,
        state,
        followup,
        resolution,
        amount,
        installments,
        card_brand,
        last_four,
        authorization,
        ticket,
        batch,
        reference,
        provider_status,
    ) in rows.iterator(chunk_size=2000):
        status = display_status(kind=kind, state=state, followup=followup, resolution=resolution)
        if created_at.tzinfo is not None:  # not PostgreSQL: the aware moment
            created_at = created_at.astimezone(zone)
        yield [
            str(public_id),
            csv_moment(created_at),
            spreadsheet_text(store_name),
            terminal_id or "",
            kinds.get(kind, kind),
            STATUS_LABELS.get(status, status),
            csv_cents(amount),
            installments,
            spreadsheet_text(card_brand),
            last_four,
            authorization,
            ticket,
            batch or "",
            spreadsheet_text(reference),
            spreadsheet_text(provider_status),
        ]


@login_required
@require_GET
def intent_export_csv(request):
    intent_filter = _filtered(request, CSV_FIELDS)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        csv_lines(CSV_COLUMNS, _csv_rows(intent_filter.qs)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="intenciones-{stamp}.csv"'
    return response
