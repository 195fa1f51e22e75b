"""What catches the eye (issue 12, items 15 to 17): the navigation's attention badge, the search
box, and the fleet of terminals by health."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from stores.selectors import terminal_list_for_user
from transactions import selectors
from transactions.dashboard.views.intent_list import intent_list
from transactions.reporting.terminal_health import terminal_health_list
from transactions.search import search_q, search_terms


@login_required
@require_GET
def attention_badge(request):
    """The navigation's badge, re-fetched by itself every 30 s: one query."""
    return render(
        request,
        "transactions/extras/_attention_badge.html",
        {"count": selectors.attention_count_for_user(user=request.user)},
    )


@login_required
@require_GET
def search(request):
    """The navigation's search box: straight to the operation when exactly one of the user's
    stores matches, else Operaciones filtered by the same search (its `q` filter), which lists
    them, or says there are none, with the filters at hand to narrow them."""
    text = request.GET.get("q", "")
    terms = search_terms(text)
    if not terms.empty:
        found = list(
            selectors.intent_list_for_user(user=request.user)
            .select_related(None)
            .filter(search_q(terms))
            .order_by("-created_at", "-pk")
            .values_list("public_id", flat=True)[:2]
        )
        if len(found) == 1:
            return redirect("dashboard:intent_detail", public_id=found[0])
    return intent_list(request)


@login_required
@require_GET
def terminal_fleet(request):
    """Every terminal the user sees (all the stores of their merchants, as far as their roles
    reach), worst health first. Three queries however big the fleet."""
    health = terminal_health_list(
        terminals=terminal_list_for_user(user=request.user).select_related(None)
    )
    return render(request, "transactions/extras/fleet.html", {"fleet": health})
