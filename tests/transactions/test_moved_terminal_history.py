"""A terminal moved to another store does not take its history along (issue 11 #17).

Payments and closed batches stay with the store they happened in: the new store's manager sees
none of them, the old store's manager still sees all of them.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from stores.models import Store
from stores.roles import Role
from stores.selectors import restrict
from tests import factories
from tests.factories import make_intent
from transactions import selectors
from transactions.models import Batch, Intent
from transactions.reporting.activity import batch_list
from transactions.reporting.daily import daily_report
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def moved(store_a, store_b, terminal_a):
    """A payment and a closed batch made at store A, then the terminal moved to store B."""
    payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED, batch_number=7)
    settlement = make_intent(
        store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state=State.APPROVED, batch_number=7
    )
    batch = Batch.objects.create(
        terminal=terminal_a, batch_number=7, settlement=settlement, closed_at=timezone.now()
    )
    terminal_a.store = store_b
    terminal_a.save(update_fields=["store"])
    return payment, settlement, batch


@pytest.fixture
def manager_b(store_b):
    user = factories.make_user("gerente-b")
    factories.make_membership(user, Role.MANAGER, store=store_b)
    return user


def test_the_new_store_sees_none_of_the_old_history(moved, manager_b, client_for, store_b):
    payment, settlement, batch = moved
    assert not selectors.intent_list_for_user(user=manager_b).exists()
    assert not restrict(Intent, user=manager_b).exists()
    assert not restrict(Batch, user=manager_b).exists()
    assert not batch_list(stores=Store.objects.filter(pk=store_b.pk)).exists()
    assert daily_report(stores=[store_b]).batches == []

    client = client_for(manager_b)
    index = client.get(reverse("dashboard:batch_index")).content.decode()
    assert str(batch.public_id) not in index
    assert client.get(reverse("dashboard:batch_detail", args=[batch.public_id])).status_code == 404
    assert (
        client.get(reverse("dashboard:intent_detail", args=[payment.public_id])).status_code == 404
    )
    listing = client.get(reverse("dashboard:intent_list")).content.decode()
    assert str(payment.public_id) not in listing
    terminal_page = client.get(
        reverse("dashboard:terminal_detail", args=[payment.terminal.public_id])
    )
    assert terminal_page.status_code == 200
    live = selectors.terminal_live_state(terminal=payment.terminal)
    assert live.last_taken_at is None  # nothing it took at store A


def test_the_old_store_keeps_its_history(moved, manager_a, client_for, store_a):
    payment, settlement, batch = moved
    assert set(selectors.intent_list_for_user(user=manager_a)) == {payment, settlement}
    assert list(restrict(Batch, user=manager_a)) == [batch]
    assert [line.batch for line in daily_report(stores=[store_a]).batches] == [batch]
    client = client_for(manager_a)
    detail = client.get(reverse("dashboard:batch_detail", args=[batch.public_id]))
    assert detail.status_code == 200
    assert store_a.name in detail.content.decode()
