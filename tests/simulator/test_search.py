"""Payment search by reference and date window (the body is ours, see api_views)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.simulator.support import T1, T2

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.content
    return [item["payment_data"]["payment_id"] for item in response.json()["payments"]]


def test_search_by_reference_and_window(api, control, clock):
    first = api.create_payment(ecr_transaction_id="REF-1", terminals_list=[{"terminal_id": T1}])
    first_id = first.json()["payment_data"]["payment_id"]
    clock.shift(60)
    second = api.create_payment(ecr_transaction_id="REF-1", terminals_list=[{"terminal_id": T2}])
    second_id = second.json()["payment_data"]["payment_id"]
    clock.shift(60)
    third = api.create_payment(ecr_transaction_id="REF-2", terminals_list=[{"terminal_id": T2}])
    assert third.status_code == 409  # T2 is busy: nothing stored

    window = {"date_from": "2026-11-27T15:00:00-03:00", "date_to": "2026-11-27T16:00:00-03:00"}
    assert _ids(api.search({**window, "ecr_transaction_id": "REF-1"})) == [second_id, first_id]
    assert _ids(api.search({**window, "ecr_transaction_id": "REF-2"})) == []
    assert _ids(api.search({**window, "terminal_id": T1})) == [first_id]
    # The window is on the request date; naive dates are Argentine time.
    narrow = {"date_from": "2026-11-27T15:04:00", "date_to": "2026-11-27T15:04:30"}
    assert _ids(api.search(narrow)) == [first_id]
    assert _ids(api.search({"date_from": "2026-11-28T00:00:00-03:00",
                            "date_to": "2026-11-28T10:00:00-03:00"})) == []  # fmt: skip

    found = api.search({**window, "ecr_transaction_id": "REF-1"}).json()["payments"][0]
    assert set(found) == {"payment_request_data", "payment_data"}
    assert found["payment_request_data"]["ecr_transaction_id"] == "REF-1"


def test_search_shows_current_status(api, control):
    payment_id = api.create_payment(ecr_transaction_id="REF-9").json()["payment_data"]["payment_id"]
    control.pick(T1, payment_id)
    control.pay(T1)
    body = {"date_from": "2000-01-01T00:00:00Z", "date_to": "2000-01-02T00:00:00Z"}
    assert _ids(api.search(body)) == []
    now = timezone.now()
    body = {
        "date_from": (now - timedelta(minutes=5)).isoformat(),
        "date_to": (now + timedelta(minutes=1)).isoformat(),
    }
    (found,) = api.search(body).json()["payments"]
    assert found["payment_data"]["payment_status"] == "CONFIRMED"


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({}, "date_from: requerido"),
        ({"date_from": "ayer", "date_to": "2026-11-27T16:00:00"}, "date_from: formato inválido"),
        ({"date_from": "2026-11-27T16:00:00", "date_to": "2026-11-27T15:00:00"}, "date_to"),
        ({"date_from": "2026-01-01T00:00:00", "date_to": "2026-03-01T00:00:00"}, "31 días"),
    ],
)
def test_search_validation(api, body, title):
    response = api.search(body)
    assert response.status_code == 400
    assert title in response.json()["errors"][0]["title"]
