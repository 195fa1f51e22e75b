"""The navigation's attention badge and search box, and Operaciones' totals of the selection
(issue 12, items 15 and 16)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.factories import make_intent
from transactions import selectors
from transactions.search import search_q, search_terms
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def _queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


# --- The attention badge -------------------------------------------------------------------


def _problems(store, terminal):
    make_intent(store, terminal=terminal, state=State.IN_DOUBT)
    make_intent(store, terminal=terminal, state=State.PROCESSING, needs_attention=True)
    make_intent(store, terminal=terminal, state=State.APPROVED, needs_attention=True)
    make_intent(store, terminal=terminal, state=State.APPROVED)  # fine: not counted


def test_the_badge_counts_what_needs_a_person_in_the_users_stores_only(
    client_for, owner, manager_a, outsider, store_a, store_b, terminal_a, terminal_b
):
    _problems(store_a, terminal_a)
    _problems(store_b, terminal_b)
    assert selectors.attention_count_for_user(user=owner) == 6
    assert selectors.attention_count_for_user(user=manager_a) == 3
    assert selectors.attention_count_for_user(user=outsider) == 0

    page = client_for(manager_a).get(reverse("dashboard:home")).content.decode()
    assert 'data-attention-count="3"' in page
    assert "3 operaciones requieren atención" in page
    badge = client_for(manager_a).get(reverse("dashboard:attention_badge"), HTTP_HX_REQUEST="true")
    assert badge.status_code == 200
    assert 'id="attention-badge"' in badge.content.decode()
    assert 'hx-trigger="every 30s"' in badge.content.decode()
    assert 'data-attention-count="3"' in badge.content.decode()


def test_the_badge_is_one_query_however_many_stores_and_problems(
    owner, merchant, store_a, terminal_a, django_assert_num_queries
):
    _problems(store_a, terminal_a)
    with django_assert_num_queries(1):
        assert selectors.attention_count_for_user(user=owner) == 3
    for _ in range(4):
        store = factories.make_store(merchant)
        _problems(store, factories.make_terminal(store))
    with django_assert_num_queries(1):
        assert selectors.attention_count_for_user(user=owner) == 15


def test_the_badge_endpoint_costs_the_same_with_more_stores(
    client_for, owner, merchant, store_a, terminal_a
):
    client = client_for(owner)
    url = reverse("dashboard:attention_badge")
    few = _queries(client, url)
    for _ in range(3):
        store = factories.make_store(merchant)
        _problems(store, factories.make_terminal(store))
    assert _queries(client, url) == few <= 4


def test_the_badge_links_to_operaciones_needing_attention(client_for, owner, store_a, terminal_a):
    _problems(store_a, terminal_a)
    response = client_for(owner).get(reverse("dashboard:intent_list") + "?attention=on")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 3
    assert response.context["totals"].count == 3


# --- Search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1.234,56", Decimal("1234.56")),
        ("1234.56", Decimal("1234.56")),
        ("1234,56", Decimal("1234.56")),
        ("$ 1.234,56", Decimal("1234.56")),
        ("1234", Decimal("1234.00")),
        ("ABC-1", None),
        ("", None),
    ],
)
def test_the_search_reads_es_ar_and_plain_amounts(text, amount):
    assert search_terms(text).amount == amount


def test_blank_or_too_long_text_searches_nothing():
    assert search_terms("   ").empty
    assert search_terms("x" * 65).empty
    assert search_q(search_terms("")) is not None


@pytest.fixture
def findable(store_a, terminal_a, store_b, terminal_b):
    """Operations of store A with every searchable identifier, and a twin in store B."""
    mine = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("1234.56"),
        reference="ORDEN-77",
        ecr_transaction_id="ecr-abc-123",
        provider_id="pay-999888",
        card_last_four="9876",
        authorization_code="ZX81Q",
    )
    make_intent(
        store_b,
        terminal=terminal_b,
        state=State.APPROVED,
        amount=Decimal("1234.56"),
        reference="ORDEN-77",
        ecr_transaction_id="ecr-abc-124",
        provider_id="pay-999889",
        card_last_four="9876",
        authorization_code="ZX81Q",
    )
    return mine


@pytest.mark.parametrize(
    "text", ["ORDEN-77", "ecr-abc-123", "pay-999888", "9876", "ZX81Q", "zx81q", "1.234,56"]
)
def test_one_match_in_the_users_stores_goes_straight_to_the_intent(
    client_for, manager_a, findable, text
):
    response = client_for(manager_a).get(reverse("dashboard:search"), {"q": text})
    assert response.status_code == 302
    assert response.url == reverse("dashboard:intent_detail", args=[findable.public_id])


def test_several_matches_show_operaciones_filtered_by_the_search(
    client_for, owner, findable, store_a, terminal_a
):
    make_intent(store_a, terminal=terminal_a, state=State.DECLINED, amount=Decimal("1234.56"))
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("99.00"))
    response = client_for(owner).get(reverse("dashboard:search"), {"q": "1234,56"})
    assert response.status_code == 200
    assert response.templates[0].name == "transactions/intent_list.html"
    listed = list(response.context["page"].object_list)
    assert len(listed) == 3  # both stores' payments and the declined one; not the $ 99
    assert 'value="1234,56"' in response.content.decode()  # the box keeps the search
    # The same selection as Operaciones with the `q` filter (its pages and CSV export).
    same = client_for(owner).get(reverse("dashboard:intent_list"), {"q": "1234,56"})
    assert [i.pk for i in same.context["page"].object_list] == [i.pk for i in listed]


def test_nothing_found_says_so_in_operaciones(client_for, manager_a, findable):
    response = client_for(manager_a).get(reverse("dashboard:search"), {"q": "NO-EXISTE"})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert "Sin operaciones." in response.content.decode()


def test_the_search_never_finds_other_stores_operations(client_for, cashier_a, store_b):
    other = make_intent(store_b, state=State.APPROVED, reference="SOLO-B")
    response = client_for(cashier_a).get(reverse("dashboard:search"), {"q": "SOLO-B"})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert str(other.public_id) not in response.content.decode()


def test_the_search_box_is_in_the_navigation(client_for, cashier_a, store_a):
    page = client_for(cashier_a).get(reverse("dashboard:home")).content.decode()
    assert f'action="{reverse("dashboard:search")}"' in page
    assert 'role="search"' in page


def test_the_search_is_constant_in_queries(client_for, owner, findable, merchant):
    client = client_for(owner)
    url = reverse("dashboard:search") + "?q=1234,56"
    few = _queries(client, url)
    for _ in range(3):
        store = factories.make_store(merchant)
        terminal = factories.make_terminal(store)
        for _ in range(5):
            make_intent(store, terminal=terminal, state=State.APPROVED, amount=Decimal("1234.56"))
    assert _queries(client, url) == few


# --- Operaciones: totals of the selection --------------------------------------------------


def test_operaciones_totals_add_up_the_whole_selection_not_the_page(
    client_for, owner, store_a, terminal_a, store_b, terminal_b
):
    for _ in range(55):  # more than a page
        make_intent(store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("10.00"))
    payment = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("1000.00")
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=payment,
        amount=None,
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.APPROVED,
        original=payment,
        amount=Decimal("100.00"),
    )
    make_intent(store_a, terminal=terminal_a, state=State.DECLINED, amount=Decimal("5000.00"))
    make_intent(store_b, terminal=terminal_b, state=State.APPROVED, amount=Decimal("7.00"))

    client = client_for(owner)
    store_only = {"store": str(store_a.public_id)}
    response = client.get(reverse("dashboard:intent_list"), store_only)
    totals = response.context["totals"]
    assert totals.count == 59
    assert totals.approved_count == 56
    assert totals.approved_amount == Decimal("1550.00")
    assert totals.reversed_amount == Decimal("1000.00")
    assert totals.refunded_amount == Decimal("100.00")
    assert totals.net == Decimal("450.00")
    page = response.content.decode()
    assert 'data-total="count">59<' in page
    assert "$ 1.550,00" in page and "$ 450,00" in page

    everything = client.get(reverse("dashboard:intent_list")).context["totals"]
    assert everything.count == 60 and everything.approved_amount == Decimal("1557.00")


def test_operaciones_totals_are_one_query(client_for, owner, store_a, terminal_a, merchant):
    client = client_for(owner)
    url = reverse("dashboard:intent_list")
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    few = _queries(client, url)
    for _ in range(3):
        store = factories.make_store(merchant)
        terminal = factories.make_terminal(store)
        for _ in range(10):
            make_intent(store, terminal=terminal, state=State.APPROVED)
    assert _queries(client, url) == few


def test_a_failing_count_leaves_the_page_up_without_a_badge_number(
    client_for, owner, store_a, monkeypatch
):
    from django.db import OperationalError

    from transactions.templatetags import dashboard as tags

    def broken(**kwargs):
        raise OperationalError("database went away")

    monkeypatch.setattr(tags, "attention_count_for_user", broken)
    response = client_for(owner).get(reverse("dashboard:batch_index"))
    assert response.status_code == 200
    assert 'data-attention-count="0"' in response.content.decode()
