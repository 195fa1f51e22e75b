"""An htmx request refused with 403 says so in the box that asked (issue 12 items 5 and 10):
a small Spanish fragment marked for app.js to swap, never the whole 403 page inside a box; a
whole-page request still gets the 403 page in the layout. The browser side is in
tests/e2e/test_refusals.py."""

import pytest
from django.urls import reverse

from stores.models import Membership
from stores.roles import Role
from transactions.models import Intent

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/lotes/?page=2"}


@pytest.fixture
def demoted(client_for, manager_a):
    """The manager's client, signed in, after the manager was made a cashier."""
    client = client_for(manager_a)
    Membership.objects.filter(user=manager_a).update(role=Role.CASHIER)
    return client


def test_an_htmx_refusal_is_a_fragment_that_says_why_and_what_to_do(demoted, terminal_a):
    url = reverse("dashboard:batch_close_terminal", args=[terminal_a.public_id])
    response = demoted.post(url, headers=HTMX)
    assert response.status_code == 403
    assert response.headers["ECR-Refusal"] == "1"
    body = response.content.decode()
    assert "data-refused" in body and 'role="alert"' in body
    assert "Tu rol no permite: Cerrar lote." in body
    assert 'href="/lotes/?page=2"' in body  # "recargá la página": the page the person is on
    assert "<html" not in body and "topbar" not in body
    assert not Intent.objects.exists()


def test_a_whole_page_refusal_is_still_the_403_page(demoted, payment_a):
    response = demoted.post(reverse("dashboard:intent_reverse", args=[payment_a.public_id]))
    assert response.status_code == 403
    assert "ECR-Refusal" not in response.headers
    body = response.content.decode()
    assert 'data-error="403"' in body and "Tu rol no permite" in body
