"""What the dashboard lists beside the totals: a terminal's intents of today, closed batches.

Every function takes a terminal or stores the caller already scoped to the user.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from stores.models import Terminal
from transactions.models import Batch, Intent
from transactions.reporting.totals import day_bounds


def terminal_intents_today(*, terminal: Terminal, limit: int = 50) -> QuerySet[Intent]:
    """Intents the terminal was offered or took during the store's local day, newest first."""
    start, end = day_bounds(store=terminal.store)
    # The store's day through `intent_store_created`, then the offer checked row by row: no join
    # that repeats rows (and no DISTINCT), nothing read from other days.
    offered = Intent.offered_terminals.through.objects.filter(
        intent_id=OuterRef("pk"), terminal_id=terminal.pk
    )
    return (
        Intent.objects.filter(store_id=terminal.store_id, created_at__gte=start, created_at__lt=end)
        .filter(Q(terminal=terminal) | Exists(offered))
        .select_related("store", "terminal")
        .order_by("-created_at")[:limit]
    )


def batch_list(*, stores) -> QuerySet[Batch]:
    """Closed batches of these stores, newest first, with what the list shows joined in.

    A batch belongs to the store its closing settlement was made in, not to the terminal's
    store of today: a terminal moved to another store does not take its history along.
    """
    return Batch.objects.filter(settlement__store__in=stores).select_related(
        "terminal", "settlement", "settlement__store"
    )
