"""The intents list's filters (django-filter), limited to what the user may see."""

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from stores.models import Store, Terminal
from transactions.models import Intent
from transactions.search import MAX_LENGTH, search_q, search_terms
from transactions.states import STATUS_CHOICES, Kind, State, display_status_q


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


class IntentFilterForm(forms.Form):
    """The filters' form: a period that ends before it starts is a mistake to point out, not a
    question whose answer is an empty list."""

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error(
                "date_to",
                f"«Hasta» ({end:%d/%m/%Y}) es anterior a «Desde» ({start:%d/%m/%Y}): "
                "elegí un «Hasta» igual o posterior.",
            )
        return data


class IntentFilter(django_filters.FilterSet):
    store = django_filters.ModelChoiceFilter(
        label="Sucursal",
        queryset=Store.objects.none(),
        to_field_name="public_id",
        empty_label="Todas",
    )
    terminal = django_filters.ModelChoiceFilter(
        label="Terminal",
        queryset=Terminal.objects.none(),
        to_field_name="public_id",
        empty_label="Todas",
        method="filter_terminal",
    )
    kind = django_filters.ChoiceFilter(label="Tipo", choices=Kind.choices, empty_label="Todos")
    # What a person reads, not only the portal state: "Anulada", "Devuelta", "Lote cerrado"...
    # (`states.display_status`); `?state=approved` means approved and still standing.
    state = django_filters.ChoiceFilter(
        label="Estado", choices=STATUS_CHOICES, empty_label="Todos", method="filter_status"
    )
    date_from = django_filters.DateFilter(
        label="Desde",
        method="filter_date_from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        label="Hasta",
        method="filter_date_to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reference = django_filters.CharFilter(label="Referencia", lookup_expr="icontains")
    last_four = django_filters.CharFilter(
        label="Últimos 4",
        field_name="card_last_four",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 4}),
    )

    # The navigation's search box lands here when it finds more than one operation.
    q = django_filters.CharFilter(
        label="Buscar",
        method="filter_search",
        max_length=MAX_LENGTH,
        help_text="Referencia, últimos 4, autorización, id de Prisma o importe.",
    )
    attention = django_filters.BooleanFilter(
        label="Requiere atención",
        method="filter_attention",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Intent
        form = IntentFilterForm
        fields = ["store", "terminal", "kind", "state", "reference", "last_four"]

    def __init__(self, *args, stores, terminals, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["store"].queryset = stores
        self.filters["terminal"].queryset = terminals

    def filter_terminal(self, queryset, name, value):
        # The terminal that took it, or one it was offered to while nobody had taken it yet.
        # A subquery rather than a join, so rows are not repeated and no DISTINCT is needed.
        offered = Intent.offered_terminals.through.objects.filter(terminal=value).values(
            "intent_id"
        )
        return queryset.filter(Q(terminal=value) | Q(terminal__isnull=True, pk__in=offered))

    def filter_status(self, queryset, name, value):
        return queryset.filter(display_status_q(value))

    # Dates are local days: `Hasta 05/03` includes the whole of March 5th.
    def filter_date_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_local_midnight(value))

    def filter_date_to(self, queryset, name, value):
        if value >= dt.date.max - dt.timedelta(days=1):
            return queryset  # "until the end of time": no bound (the day after would overflow)
        return queryset.filter(created_at__lt=_local_midnight(value + dt.timedelta(days=1)))

    def filter_search(self, queryset, name, value):
        return queryset.filter(search_q(search_terms(value)))

    def filter_attention(self, queryset, name, value):
        # Unchecked means "all", not "only those without a problem".
        if not value:
            return queryset
        return queryset.filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
