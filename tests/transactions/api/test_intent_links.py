"""The `links` of an intent offer only what the service would accept now: `reversal` follows
`selectors.reversal_allowed` (no anulación of AMEX payments nor after the batch closed)."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_script_prefix, reverse, set_script_prefix
from django.utils import timezone

from tests.factories import make_intent
from tests.transactions.api.support import API
from transactions.intent_document import intent_links
from transactions.models import Batch


def _links(api, intent) -> dict:
    response = api.get(f"{API}/intents/{intent.public_id}")
    assert response.status_code == 200, response.content
    return response.json()["links"]


def _approved(store, terminal, **kw):
    kw.setdefault("batch_number", 17)
    return make_intent(store, terminal=terminal, state="approved", card_brand_code="VI", **kw)


def test_an_approved_payment_offers_its_reversal(api_a, store_a, terminal_a, credential):
    payment = _approved(store_a, terminal_a)
    assert _links(api_a, payment)["reversal"] == f"{API}/payments/{payment.public_id}/reversal"


def test_an_amex_payment_offers_no_reversal(api_a, store_a, terminal_a, credential):
    by_brand = make_intent(store_a, terminal=terminal_a, state="approved", card_brand_code="AM")
    by_acquirer = _approved(store_a, terminal_a, acquirer="AMEX")
    assert "reversal" not in _links(api_a, by_brand)
    assert "reversal" not in _links(api_a, by_acquirer)


def test_a_payment_of_a_closed_batch_offers_no_reversal(api_a, store_a, terminal_a, credential):
    payment = _approved(store_a, terminal_a, batch_number=7)
    closing = make_intent(store_a, terminal=terminal_a, kind="settlement", state="approved")
    Batch.objects.create(
        terminal=terminal_a, batch_number=7, settlement=closing, closed_at=timezone.now()
    )
    assert "reversal" not in _links(api_a, payment)


def test_a_payment_settled_after_offers_no_reversal(api_a, store_a, terminal_a, credential):
    approved_at = timezone.now() - timedelta(minutes=5)
    payment = _approved(store_a, terminal_a, finished_at=approved_at)
    make_intent(
        store_a,
        terminal=terminal_a,
        kind="settlement",
        state="approved",
        finished_at=approved_at + timedelta(minutes=1),
    )
    assert "reversal" not in _links(api_a, payment)


def test_the_list_offers_the_same_links(api_a, store_a, terminal_a, credential):
    open_payment = _approved(store_a, terminal_a)
    amex = make_intent(store_a, terminal=terminal_a, state="approved", card_brand_code="AM")
    response = api_a.get(f"{API}/intents")
    links = {item["id"]: item["links"] for item in response.json()["results"]}
    assert "reversal" in links[str(open_payment.public_id)]
    assert "reversal" not in links[str(amex.public_id)]


def _batch_queries(ctx) -> int:
    return sum('"transactions_batch"' in query["sql"] for query in ctx.captured_queries)


def test_the_detail_runs_the_rule_once(api_a, store_a, terminal_a, credential):
    payment = _approved(store_a, terminal_a)
    with CaptureQueriesContext(connection) as ctx:
        _links(api_a, payment)
    assert _batch_queries(ctx) == 1


def test_the_list_runs_the_rule_once_per_page(api_a, store_a, terminal_a, credential):
    for _ in range(2):
        _approved(store_a, terminal_a)
    api_a.get(f"{API}/intents")  # once-per-key work (the key's last use) out of the count
    with CaptureQueriesContext(connection) as few:
        api_a.get(f"{API}/intents")
    for _ in range(6):
        _approved(store_a, terminal_a)
    with CaptureQueriesContext(connection) as many:
        response = api_a.get(f"{API}/intents")
    assert response.json()["count"] == 8
    assert _batch_queries(many) == 1
    assert len(many.captured_queries) == len(few.captured_queries)


def test_links_are_the_reversed_urls_under_any_script_prefix(store_a, terminal_a):
    """The links are built from each route reversed once: the same as `reverse()`, also when
    the portal is served under a path prefix (SCRIPT_NAME)."""
    payment = make_intent(store_a, terminal=terminal_a, state="pending")
    before = get_script_prefix()
    try:
        for prefix in ("/", "/portal/"):
            set_script_prefix(prefix)
            kwargs = {"public_id": payment.public_id}
            assert intent_links(payment, reversible=True) == {
                "self": reverse("pos-api:intent-detail", kwargs=kwargs),
                "wait": reverse("pos-api:intent-detail", kwargs=kwargs) + "?wait=30",
                "cancel": reverse("pos-api:intent-cancel", kwargs=kwargs),
                "reversal": reverse("pos-api:payment-reversal", kwargs=kwargs),
            }
        assert intent_links(payment, reversible=False)["self"].startswith("/portal/api/")
    finally:
        set_script_prefix(before)
