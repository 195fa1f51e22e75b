"""Home ("Hoy"): every store of the user with today's numbers, terminals and what needs a person."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from stores.permissions import StorePermissions
from stores.roles import Action
from stores.selectors import store_list_for_user
from transactions import selectors
from transactions.reporting.breakdown import day_breakdown, recent_operations
from transactions.reporting.totals import store_day_totals


@login_required
def home(request):
    stores = list(store_list_for_user(user=request.user))
    totals = store_day_totals(stores=stores)
    attention = list(
        selectors.intents_needing_attention(stores=stores)
        .select_related("store", "terminal")
        .order_by("-created_at")[:50]
    )
    permissions = StorePermissions(user=request.user, stores=stores)
    terminals = selectors.terminal_states_for_stores(stores=stores)
    breakdown = day_breakdown(stores=stores)
    sections = [
        {
            "store": day.store,
            "totals": day,
            "terminals": terminals[day.store.pk],
            "can_charge": permissions.allows(day.store, Action.CHARGE),
            "attention": [i for i in attention if i.store_id == day.store.pk],
            "breakdown": breakdown[day.store.pk],
        }
        for day in totals
    ]
    return render(
        request,
        "transactions/home.html",
        {"sections": sections, "attention": attention, "feed": recent_operations(stores=stores)},
    )
