"""A refund with no original payment from the terminal page (issue 15, item 2): only roles
configured for it (owners by default), confirmed first, under the store's money controls."""

from decimal import Decimal

import pytest
from django.urls import reverse

from stores.roles import Role
from tests import factories
from tests.transactions.support import set_money_controls
from transactions.models import Intent
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_a(store_a):
    user = factories.make_user("duenia_a", first_name="Dueña")
    factories.make_membership(user, Role.OWNER, store=store_a)
    return user


def _url(terminal):
    return reverse("dashboard:terminal_refund", args=[terminal.public_id])


def _page(client, terminal) -> str:
    return client.get(
        reverse("dashboard:terminal_detail", args=[terminal.public_id])
    ).content.decode()


def test_only_who_may_sees_the_form(client_for, owner_a, manager_a, terminal_a):
    assert 'data-form="unreferenced-refund"' in _page(client_for(owner_a), terminal_a)
    assert 'data-form="unreferenced-refund"' not in _page(client_for(manager_a), terminal_a)


def test_a_manager_is_refused_and_nothing_is_created(client_for, manager_a, terminal_a):
    response = client_for(manager_a).post(
        _url(terminal_a), {"devolucion-amount": "500", "confirmar": "1"}
    )
    assert response.status_code == 403
    assert not Intent.objects.exists()


def test_the_owner_confirms_first(client_for, owner_a, terminal_a):
    client = client_for(owner_a)
    response = client.post(
        _url(terminal_a), {"devolucion-amount": "1.500,50", "devolucion-reference": "T-77"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "¿Devolvés $ 1.500,50 sin indicar el cobro original?" in body
    assert 'name="devolucion-amount" value="1500,50"' in body
    assert not Intent.objects.exists(), "nothing moves before the confirmation"


def test_bad_amount_is_a_spanish_form_error(client_for, owner_a, terminal_a):
    response = client_for(owner_a).post(_url(terminal_a), {"devolucion-amount": "abc"})
    assert response.status_code == 422
    assert 'id="id_devolucion-amount"' in response.content.decode()
    assert not Intent.objects.exists()


def test_above_the_threshold_it_waits_for_approval(
    client_for, owner_a, store_a, terminal_a, credential
):
    """Confirmed, it is created as any refund: here held for a second person (so nothing is
    sent to the provider, which the simulator tests cover for unreferenced refunds)."""
    set_money_controls(store_a, refund_approval_threshold=Decimal("500.00"))
    client = client_for(owner_a)
    first = client.post(_url(terminal_a), {"devolucion-amount": "600"})
    assert "Esperará la aprobación de otra persona" in first.content.decode()
    response = client.post(_url(terminal_a), {"devolucion-amount": "600,00", "confirmar": "1"})
    refund = Intent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:intent_detail", args=[refund.public_id])
    assert (refund.kind, refund.state, refund.original) == (
        Kind.REFUND,
        State.APPROVAL_PENDING,
        None,
    )
    assert refund.amount == Decimal("600.00")
    assert refund.events.filter(actor_user=owner_a).exists()


@pytest.mark.django_db(transaction=True)
def test_confirmed_below_the_threshold_it_reaches_the_provider(
    sim, client_for, store_a, terminal_a
):
    """Against the simulator over HTTP: the refund is sent to the terminal with no original."""
    from simulator.models import SimIntention

    owner = factories.make_user("duenio_a2")
    factories.make_membership(owner, Role.OWNER, store=store_a)
    response = client_for(owner).post(
        _url(terminal_a),
        {"devolucion-amount": "250,00", "devolucion-reference": "T-9", "confirmar": "1"},
    )
    refund = Intent.objects.get(kind=Kind.REFUND)
    assert response.status_code == 302
    assert refund.state == State.PENDING and refund.original is None
    assert refund.reference == "T-9"
    assert SimIntention.objects.filter(pk=refund.provider_id).exists()
