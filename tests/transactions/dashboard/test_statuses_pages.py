"""Issue 12 item 8 on the pages: the intent's header and Operaciones read "Anulada", "Devuelta",
"Devuelta parcialmente" and "Lote cerrado", Operaciones filters by them, and the list costs the
same number of queries however many such rows it shows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_intent
from transactions.models import Intent
from transactions.states import Followup, Kind, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(store_a, terminal_a):
    reversed_ = make_intent(store_a, terminal=terminal_a, state=State.APPROVED, reference="R-1")
    refunded = make_intent(store_a, terminal=terminal_a, state=State.APPROVED, reference="D-1")
    partial = make_intent(store_a, terminal=terminal_a, state=State.APPROVED, reference="P-1")
    standing = make_intent(store_a, terminal=terminal_a, state=State.APPROVED, reference="A-1")
    Intent.objects.filter(pk=reversed_.pk).update(followup_status=Followup.REVERSED)
    Intent.objects.filter(pk=refunded.pk).update(followup_status=Followup.REFUNDED)
    Intent.objects.filter(pk=partial.pk).update(followup_status=Followup.PARTIALLY_REFUNDED)
    settlement = make_intent(store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state="approved")
    return {
        "reversed": reversed_,
        "refunded": refunded,
        "partial": partial,
        "standing": standing,
        "settlement": settlement,
    }


def _rows(client, query="") -> str:
    return client.get(reverse("dashboard:intent_list") + query).content.decode()


def test_operaciones_reads_what_became_of_the_money(client_for, owner, ledger):
    body = _rows(client_for(owner))
    assert 'data-status="reversed">Anulada<' in body
    assert 'data-status="refunded">Devuelta<' in body
    assert 'data-status="partially_refunded">Devuelta parcialmente<' in body
    assert 'data-status="settled">Lote cerrado<' in body
    assert body.count('data-status="approved">Aprobada<') == 1  # only the standing payment


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("reversed", {"reversed"}),
        ("refunded", {"refunded"}),
        ("partially_refunded", {"partial"}),
        ("settled", {"settlement"}),
        ("approved", {"standing"}),
    ],
)
def test_operaciones_filters_by_status(client_for, owner, ledger, status, expected):
    body = _rows(client_for(owner), f"?state={status}")
    shown = {name for name, intent in ledger.items() if str(intent.public_id) in body}
    assert shown == expected


def test_the_filter_offers_the_statuses(client_for, owner, ledger):
    body = _rows(client_for(owner))
    for value, label in [
        ("reversed", "Anulada"),
        ("refunded", "Devuelta"),
        ("partially_refunded", "Devuelta parcialmente"),
        ("settled", "Lote cerrado"),
    ]:
        assert f'<option value="{value}">{label}</option>' in body


def test_the_payment_header_reads_anulada(client_for, owner, ledger):
    payment = ledger["reversed"]
    body = client_for(owner).get(reverse("dashboard:intent_detail", args=[payment.public_id]))
    header = body.content.decode().split('<header class="intent-head">')[1].split("</header>")[0]
    assert "Anulada" in header and "Aprobada" not in header


def test_the_csv_reads_the_status_too(client_for, owner, ledger):
    response = client_for(owner).get(reverse("dashboard:intent_export_csv"))
    text = b"".join(response.streaming_content).decode()
    assert "Anulada" in text and "Lote cerrado" in text


def test_list_queries_do_not_grow_with_reversed_and_refunded_rows(
    client_for, owner, store_a, terminal_a
):
    client = client_for(owner)

    def fill(n):
        for _ in range(n):
            payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
            make_intent(
                store_a,
                terminal=terminal_a,
                kind=Kind.REFUND,
                state=State.APPROVED,
                original=payment,
                amount=Decimal("1.00"),
            )
            Intent.objects.filter(pk=payment.pk).update(followup_status=Followup.PARTIALLY_REFUNDED)
            make_intent(store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state="approved")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("dashboard:intent_list")).status_code == 200
        return len(ctx.captured_queries)

    fill(3)
    few = count()
    fill(20)
    assert count() == few
