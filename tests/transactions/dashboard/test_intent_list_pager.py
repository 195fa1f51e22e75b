"""The intents list counts up to a cap: its cost does not grow with a year of history."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_intent
from transactions.dashboard.views import intent_list

pytestmark = pytest.mark.django_db


def test_past_the_cap_the_list_says_more_than_and_asks_for_a_filter(
    client_for, owner, store_a, terminal_a, monkeypatch
):
    monkeypatch.setattr(intent_list, "COUNT_CAP", 3)
    for _ in range(5):
        make_intent(store_a, terminal=terminal_a)
    response = client_for(owner).get("/intenciones/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Más de 3 operaciones" in body and "filtrá" in body


def test_under_the_cap_the_list_gives_the_exact_count(client_for, owner, store_a, terminal_a):
    for _ in range(4):
        make_intent(store_a, terminal=terminal_a)
    body = client_for(owner).get("/intenciones/").content.decode()
    assert "4 operaciones" in body and "Más de" not in body


def test_the_count_never_reads_past_the_cap(store_a, terminal_a):
    for _ in range(6):
        make_intent(store_a, terminal=terminal_a)
    from transactions.models import Intent

    paginator = intent_list.CappedPaginator(Intent.objects.order_by("-created_at"), 2, cap=4)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 5 and paginator.capped
    (count_sql,) = [q["sql"] for q in queries.captured_queries]
    assert "LIMIT 5" in count_sql.upper()
