"""The business day of an operation: the store-local calendar day of the provider's transaction
time (issue 13, item 1).

Finance closes a day by what the customer paid that day, not by when the portal happened to
learn it: an in-doubt sale found the next morning belongs to the day it was paid, and its report
gets a new revision. The moment is kept on the intent (`transacted_at`) and the day next to it
(`business_day`, indexed with the store), both written by the engine in the same guarded update
that makes the intent final (`transitions.intent_transition`), so every report reads one indexed
day instead of computing a time-zone conversion over the ledger.
"""

import datetime as dt
import zoneinfo

from django.utils import timezone

from stores.models import Store
from transactions.states import State


def transaction_moment(
    *, provider_status_at: dt.datetime | None, from_state: str, created_at, now: dt.datetime
) -> dt.datetime:
    """When the operation happened, as well as the portal knows it.

    The provider's status date of the final answer when it gave one (the engine stores the date
    of the answer that made the intent final in `provider_status_at`); for an in-doubt intent
    resolved by a person without a provider answer, the moment it was sent (the customer was at
    the terminal then, not when someone looked at it); else the moment the portal learned it.
    """
    if provider_status_at is not None:
        return provider_status_at
    if from_state == State.IN_DOUBT and created_at is not None:
        return created_at
    return now


def business_day_of(*, time_zone: str | dt.tzinfo, moment: dt.datetime) -> dt.date:
    """The store-local calendar date of `moment`."""
    zone = zoneinfo.ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone
    return timezone.localtime(moment, zone).date()


def store_time_zone(intent) -> str:
    """The time zone of the intent's store without a query when the store is already loaded
    (the sweeper selects it with the intent)."""
    if type(intent).store.is_cached(intent):
        return intent.store.time_zone
    return Store.objects.values_list("time_zone", flat=True).get(pk=intent.store_id)
