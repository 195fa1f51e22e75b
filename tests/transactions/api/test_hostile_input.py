"""Hostile input to the POS API gets a clear 4xx problem, never a 500 or an HTML page."""

import pytest
from django.test import Client

from tests import factories
from tests.transactions.api.support import api_client
from transactions.api.models import IdempotencyRecord
from transactions.models import Intent

pytestmark = pytest.mark.django_db


def test_a_body_over_the_limit_is_413_problem_json_and_changes_nothing(store_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    _client, raw = factories.make_pos_client(store_a, name="Caja")
    body = '{"terminal": "x", "amount": "1.00", "reference": "' + "a" * 200_000 + '"}'
    response = api_client(raw).post(
        "/api/v1/payments", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert Intent.objects.count() == 0
    assert not IdempotencyRecord.objects.exists(), "nothing ran: the key stays free"


def test_a_post_to_an_unknown_api_path_is_404_problem_json_not_a_csrf_page(store_a):
    _client, raw = factories.make_pos_client(store_a, name="Caja")
    browser_like = Client(enforce_csrf_checks=True)
    response = browser_like.post(
        "/api/v1/no-existe",
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {raw}",
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
