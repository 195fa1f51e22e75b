"""On PostgreSQL the POS document's read is a statement prepared once per session (its plan
cost the server several times its run): same rows, and it survives losing the statement.

Needs PostgreSQL (DATABASE_URL=postgres://...); outside a transaction, as the API runs it.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_intent
from transactions.intent_document import (
    intent_document,
    intent_document_get_for_pos,
    intent_for_document,
)
from transactions.selectors import intent_list_for_pos

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def _read(pos_client, intent):
    with CaptureQueriesContext(connection) as ctx:
        read = intent_document_get_for_pos(pos_client=pos_client, public_id=intent.public_id)
    return read, [q["sql"].split(" ", 1)[0].upper() for q in ctx.captured_queries]


def test_the_document_read_is_prepared_once_and_answers_the_same(key_a, store_a, terminal_a):
    pos_client = key_a[0]
    intent = make_intent(store_a, terminal=terminal_a, state="approved", batch_number=3)
    expected = intent_document(
        intent=intent_for_document(
            intent_list_for_pos(pos_client=pos_client).filter(public_id=intent.public_id)
        )
    )
    connection.close()  # a new session: nothing prepared in it yet

    first, statements = _read(pos_client, intent)
    assert statements == ["PREPARE", "EXECUTE"]
    second, statements = _read(pos_client, intent)
    assert statements == ["EXECUTE"]
    assert intent_document(intent=first) == intent_document(intent=second) == expected

    # The session loses it (as after `DISCARD ALL`): the read still answers, then prepares again.
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    third, statements = _read(pos_client, intent)
    assert statements[-1].startswith("SELECT") and intent_document(intent=third) == expected
    fourth, statements = _read(pos_client, intent)
    assert statements == ["PREPARE", "EXECUTE"] and intent_document(intent=fourth) == expected


def test_out_of_scope_is_still_none(key_a, store_b, terminal_b):
    other = make_intent(store_b, terminal=terminal_b)
    read, statements = _read(key_a[0], other)
    assert read is None and statements[-1] == "EXECUTE"
