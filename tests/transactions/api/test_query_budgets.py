"""Statement budgets of the POS API's hot paths, constant with the number of intents and
terminals, and the documents built without a read equal to the ones built from a fresh read.

The provider is faked at the gateway seam (a real `PrismaGateway` over an httpx.MockTransport),
so the provider-call row is counted like in production. The cache is in memory (as with Redis:
the throttle and the token cost no SQL). Savepoints are left out of the counts: in production
each of those atomic blocks is a transaction of its own, not a statement.
"""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.factories import make_intent
from tests.transactions.api.support import API, PAY, post, prisma_answer
from transactions.api.models import IdempotencyRecord
from transactions.api.serializers import IntentOutputSerializer
from transactions.intent_document import (
    intent_document,
    intent_document_get_for_pos,
    intent_for_document,
)
from transactions.models import Intent
from transactions.selectors import intent_list_for_pos


def _statements(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO"))
    ]


def _savepoints(queries) -> int:
    return sum(1 for q in queries if q["sql"].upper().startswith("SAVEPOINT"))


def _pay(api, terminal, n: int):
    body = {"terminal": str(terminal.public_id), "amount": f"{100 + n}.00", "reference": f"R-{n}"}
    return post(api, "/payments", body)


# The statements of one POST /payments (warm: key touched, token cached), in order:
# auth (1), idempotency claim (1), the terminal of the store (1), the credential (1), the row
# (lock terminals, busy check, unique provider reference, intent, offered terminals in one
# INSERT, created event, idempotency link: 7), then the answer in one transaction (intent
# update, event, provider-call row, the key's answer: 4). No throttle statement (cache), no
# read-back.
POST_PAYMENT_STATEMENTS = 15
# Write transactions that are atomic blocks: claim, row (+ link), answer (+ provider-call row
# and the key's answer).
POST_PAYMENT_ATOMIC_BLOCKS = 3


def test_post_payment_statements_are_a_fixed_budget(api_a, store_a, fake_provider):
    terminals = [factories.make_terminal(store_a) for _ in range(3)]
    assert _pay(api_a, terminals[0], 0).status_code == 201  # warms the key and the token

    with CaptureQueriesContext(connection) as few:
        response = _pay(api_a, terminals[1], 1)
    assert response.status_code == 201, response.json()

    # More history and more terminals change nothing.
    for n in range(20):
        make_intent(store_a, terminal=factories.make_terminal(store_a), state="approved")
    with CaptureQueriesContext(connection) as many:
        assert _pay(api_a, terminals[2], 2).status_code == 201

    statements = _statements(few.captured_queries)
    assert len(statements) == POST_PAYMENT_STATEMENTS, "\n".join(statements)
    assert _savepoints(few.captured_queries) == POST_PAYMENT_ATOMIC_BLOCKS
    assert len(_statements(many.captured_queries)) == POST_PAYMENT_STATEMENTS
    assert not any(s.upper().startswith("SELECT") and "ecr_cache" in s for s in statements)


def _last_transaction(queries) -> list[str]:
    """The statements of the last atomic block (between its SAVEPOINT and RELEASE)."""
    sqls = [q["sql"] for q in queries]
    start = max(i for i, sql in enumerate(sqls) if sql.upper().startswith("SAVEPOINT"))
    end = next(i for i in range(start, len(sqls)) if sqls[i].upper().startswith("RELEASE"))
    return sqls[start + 1 : end]


def test_post_payment_answer_call_row_and_key_answer_are_one_write(
    api_a, store_a, terminal_a, fake_provider
):
    """After the provider call: one short transaction records the answer, the provider-call row
    and the key's answer, and nothing is written after it."""
    body = {"terminal": str(terminal_a.public_id), "amount": "103.00", "reference": "R-3"}
    with CaptureQueriesContext(connection) as ctx:
        response = post(api_a, "/payments", body, key="k-one-write")
    assert response.status_code == 201, response.json()
    last = _last_transaction(ctx.captured_queries)
    tables = [
        next(t for t in ("intentevent", "gatewaycall", "idempotencyrecord", "intent") if t in s)
        for s in last
    ]
    assert tables == ["intent", "intentevent", "gatewaycall", "idempotencyrecord"], last
    assert last[-1].startswith("UPDATE") and "'done'" in last[-1]
    assert ctx.captured_queries[-1]["sql"].upper().startswith("RELEASE"), "nothing after it"
    record = IdempotencyRecord.objects.get(key="k-one-write")
    assert record.response_body == response.json() and record.response_status == 201


def test_post_payment_answer_is_the_document_of_a_fresh_read(api_a, store_a, fake_provider):
    terminal, other = factories.make_terminal(store_a), factories.make_terminal(store_a)
    body = {
        "terminals": [str(other.public_id), str(terminal.public_id)],
        "amount": "1520.50",
        "reference": "FRESH-1",
    }
    response = post(api_a, "/payments", body)
    assert response.status_code == 201, response.json()

    intent = (
        Intent.objects.select_related("terminal", "original")
        .prefetch_related("offered_terminals")
        .get(public_id=response.json()["id"])
    )
    assert response.json() == json.loads(json.dumps(IntentOutputSerializer(intent).data))
    assert api_a.get(f"{API}/intents/{intent.public_id}").json() == response.json()


def test_post_answer_after_an_unknown_status_is_the_document_of_a_fresh_read(
    api_a, store_a, terminal_a, fake_provider
):
    """The unknown status raises the intent to a person (a second write, with its own
    `updated_at`): the answer built in memory must carry that write too."""
    fake_provider.on("POST", PAY, prisma_answer(status="SOMETHING_NEW"))
    response = _pay(api_a, terminal_a, 7)
    assert response.status_code == 201, response.json()
    assert response.json()["needs_attention"] is True

    intent = (
        Intent.objects.select_related("terminal", "original")
        .prefetch_related("offered_terminals")
        .get(public_id=response.json()["id"])
    )
    assert response.json() == json.loads(json.dumps(IntentOutputSerializer(intent).data))


@pytest.fixture
def varied_intents(store_a, terminal_a):
    """Intents that exercise every part of the document: offered terminals out of label order,
    a taken terminal, card data, receipts, an original, a settlement without amount."""
    z = factories.make_terminal(store_a, label="Zeta")
    a = factories.make_terminal(store_a, label="Alfa")
    pending = make_intent(store_a, terminal=None)
    pending.offered_terminals.set([z, a, terminal_a])
    approved = make_intent(
        store_a,
        terminal=terminal_a,
        state="approved",
        authorized_amount=Decimal("1000.00"),
        card_brand="VISA",
        card_brand_code="VI",
        card_last_four="4242",
        entry_mode="CHIP",
        payment_type="CREDIT",
        batch_number=12,
        ticket_number="0042",
        authorization_code="A1B2",
        client_receipt="CLIENTE",
        merchant_receipt="COMERCIO",
    )
    reversal = make_intent(
        store_a, terminal=terminal_a, kind="reversal", state="pending", original=approved
    )
    settlement = make_intent(store_a, terminal=terminal_a, kind="settlement", state="approved")
    return [pending, approved, reversal, settlement]


def test_document_read_in_one_query_equals_the_full_read(key_a, varied_intents):
    pos_client = key_a[0]
    for intent in varied_intents:
        full = (
            Intent.objects.select_related("terminal", "original")
            .prefetch_related("offered_terminals")
            .get(pk=intent.pk)
        )
        expected = json.loads(json.dumps(IntentOutputSerializer(full).data))
        prepared = intent_document_get_for_pos(pos_client=pos_client, public_id=intent.public_id)
        through_orm = intent_for_document(
            intent_list_for_pos(pos_client=pos_client).filter(public_id=intent.public_id)
        )
        assert json.loads(json.dumps(intent_document(intent=prepared))) == expected
        assert json.loads(json.dumps(intent_document(intent=through_orm))) == expected


def test_document_read_is_scoped_to_the_keys_store(key_a, store_b, terminal_b):
    other = make_intent(store_b, terminal=terminal_b)
    assert intent_document_get_for_pos(pos_client=key_a[0], public_id=other.public_id) is None


def test_get_intent_is_two_statements(api_a, store_a, terminal_a, varied_intents):
    pending = varied_intents[0]
    api_a.get(f"{API}/ping")  # touches the key's last use
    with CaptureQueriesContext(connection) as ctx:
        response = api_a.get(f"{API}/intents/{pending.public_id}")
    assert response.status_code == 200
    # The key, then the intent with its terminals and original in one query.
    assert len(_statements(ctx.captured_queries)) == 2, ctx.captured_queries


def test_get_intent_budget_is_constant_with_history(api_a, store_a, terminal_a, varied_intents):
    approved = varied_intents[1]
    api_a.get(f"{API}/ping")
    with CaptureQueriesContext(connection) as few:
        assert api_a.get(f"{API}/intents/{approved.public_id}").status_code == 200
    for _ in range(15):
        make_intent(store_a, terminal=terminal_a, state="approved", original=approved)
        make_intent(store_a, terminal=factories.make_terminal(store_a), state="approved")
    with CaptureQueriesContext(connection) as many:
        assert api_a.get(f"{API}/intents/{approved.public_id}").status_code == 200
    # The key, the document, and the reversal rule's fixed set of queries.
    assert len(_statements(few.captured_queries)) <= 6
    assert len(_statements(many.captured_queries)) == len(_statements(few.captured_queries))


def test_intent_list_budget_is_constant_with_rows_and_terminals(api_a, store_a, terminal_a):
    make_intent(store_a, terminal=terminal_a, state="approved")
    api_a.get(f"{API}/ping")
    with CaptureQueriesContext(connection) as few:
        assert api_a.get(f"{API}/intents?limit=50").status_code == 200
    for _ in range(30):
        terminal = factories.make_terminal(store_a)
        make_intent(store_a, terminal=terminal, state="approved")
        make_intent(store_a, terminal=terminal, state="pending")
    with CaptureQueriesContext(connection) as many:
        response = api_a.get(f"{API}/intents?limit=50")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 50
    # Key, count, page, offered terminals, and at most four for the reversal rule.
    assert len(_statements(few.captured_queries)) <= 8
    assert len(_statements(many.captured_queries)) == len(_statements(few.captured_queries))


def test_post_payment_reads_are_not_compiled_per_request(
    api_a, store_a, fake_provider, monkeypatch
):
    """A warm POST /payments runs its fixed reads (the key's look-up, terminals, credential,
    lock, busy and reference checks) from SQL compiled once (`ecrportal.compiled_query`): the
    ORM compiles no SELECT per request. A read moved back to a plain queryset fails here
    (compiling it cost the portal more than running it)."""
    from django.db.models.sql import compiler

    terminals = [factories.make_terminal(store_a) for _ in range(2)]
    assert _pay(api_a, terminals[0], 0).status_code == 201  # compiles them for this connection
    compiled: list[str] = []
    as_sql = compiler.SQLCompiler.as_sql
    writes = (compiler.SQLInsertCompiler, compiler.SQLUpdateCompiler, compiler.SQLDeleteCompiler)

    def spy(self, *args, **kwargs):
        sql, params = as_sql(self, *args, **kwargs)
        if not isinstance(self, writes):  # SELECTs (writes have compilers of their own)
            compiled.append(sql)
        return sql, params

    # The backend's own compiler (PostgreSQL's) subclasses this one without redefining as_sql.
    monkeypatch.setattr(compiler.SQLCompiler, "as_sql", spy)
    assert _pay(api_a, terminals[1], 1).status_code == 201
    assert compiled == []
