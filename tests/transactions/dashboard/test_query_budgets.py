"""The pages people keep open cost the same number of queries with 5 rows as with 50."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_intent
from transactions.states import State

pytestmark = pytest.mark.django_db


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _fill(n, store_a, terminal_a, store_b, terminal_b, payment):
    for i in range(n):
        make_intent(
            store_a,
            terminal=terminal_a,
            state=State.APPROVED,
            card_brand=["VISA", "MASTERCARD", "CABAL"][i % 3],
        )
        make_intent(store_b, terminal=terminal_b, state=State.APPROVED)
        make_intent(
            store_a,
            terminal=terminal_a,
            state=State.APPROVED,
            kind="refund",
            original=payment,
            amount="1.00",
        )
    for _ in range(min(n, 10)):
        make_intent(store_a, terminal=terminal_a, state="in_doubt")


@pytest.mark.parametrize(
    "page",
    ["home", "intent_list", "intent_detail", "terminal_detail", "batch_index"],
)
def test_query_count_does_not_grow_with_rows(
    client_for,
    owner,
    store_a,
    terminal_a,
    store_b,
    terminal_b,
    payment_a,
    django_assert_max_num_queries,
    page,
):
    urls = {
        "home": reverse("dashboard:home"),
        "intent_list": reverse("dashboard:intent_list"),
        "intent_detail": reverse("dashboard:intent_detail", args=[payment_a.public_id]),
        "terminal_detail": reverse("dashboard:terminal_detail", args=[terminal_a.public_id]),
        "batch_index": reverse("dashboard:batch_index"),
    }
    client = client_for(owner)
    _fill(5, store_a, terminal_a, store_b, terminal_b, payment_a)
    few = _queries(client, urls[page])
    _fill(45, store_a, terminal_a, store_b, terminal_b, payment_a)
    many = _queries(client, urls[page])
    assert many == few, f"{page}: {few} queries with few rows, {many} with many"
    with django_assert_max_num_queries(25):
        client.get(urls[page])
