"""The intent document carries the status the dashboard shows (issue 12 item 8 for the POS):
`display_status` and its Spanish label, read-only, documented in the OpenAPI schema, at the
same statement budget as before."""

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_intent
from tests.transactions.api.support import API
from transactions.states import STATUS_CHOICES, Kind, Resolution, State

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "state", "fields", "status", "label"),
    [
        (Kind.PAYMENT, State.APPROVED, {}, "approved", "Aprobada"),
        (Kind.PAYMENT, State.APPROVED, {"followup_status": "reversed"}, "reversed", "Anulada"),
        (Kind.PAYMENT, State.APPROVED, {"followup_status": "refunded"}, "refunded", "Devuelta"),
        (
            Kind.PAYMENT,
            State.APPROVED,
            {"followup_status": "partially_refunded"},
            "partially_refunded",
            "Devuelta parcialmente",
        ),
        (Kind.SETTLEMENT, State.APPROVED, {"amount": None}, "settled", "Lote cerrado"),
        (
            Kind.PAYMENT,
            State.FAILED,
            {"resolution": Resolution.NOT_RECEIVED},
            "not_received",
            "No recibida por Prisma",
        ),
    ],
)
def test_get_intent_answers_the_display_status_in_two_statements(
    api_a, store_a, terminal_a, kind, state, fields, status, label
):
    intent = make_intent(store_a, terminal=terminal_a, kind=kind, state=state, **fields)
    api_a.get(f"{API}/ping")  # touches the key's last use
    with CaptureQueriesContext(connection) as ctx:
        response = api_a.get(f"{API}/intents/{intent.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["display_status"], body["display_status_label"]) == (
        state,
        status,
        label,
    )
    # The pinned budget of GET /intents/{id}: the key, then the document in one query (the
    # status comes from the same row).
    statements = [q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    if kind == Kind.PAYMENT and state == State.APPROVED:
        # An approved payment also runs the reversal rule (a fixed set, pinned elsewhere).
        assert len(statements) <= 6, statements
    else:
        assert len(statements) == 2, statements


def test_the_schema_documents_display_status_as_read_only(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    document = schema["components"]["schemas"]["IntentOutput"]["properties"]
    status = document["display_status"]
    if "$ref" in status or "allOf" in status:
        ref = (status.get("allOf") or [status])[0]["$ref"].rsplit("/", 1)[-1]
        enum = schema["components"]["schemas"][ref]["enum"]
    else:
        enum = status["enum"]
    assert set(enum) == {value for value, _ in STATUS_CHOICES}
    assert status["readOnly"] is True
    assert "reversed" in status["description"]
    assert document["display_status_label"]["readOnly"] is True
