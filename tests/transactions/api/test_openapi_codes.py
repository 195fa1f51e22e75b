"""The OpenAPI document's error codes are the catalogue's: every code the API can answer is
documented with the status it answers, and nothing else is documented."""

import pytest
import yaml

from tests.transactions.api.support import post
from tests.transactions.source_scan import code_references
from transactions.api import schema_docs
from transactions.api.models import IdempotencyRecord
from transactions.errors import Code
from transactions.models import Intent


@pytest.fixture
def schema(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def documented_codes(schema) -> dict[str, dict[int, set[str]]]:
    """operationId -> {status: codes in its problem examples, `code` and `errors[].code`}."""
    out: dict[str, dict[int, set[str]]] = {}
    for item in schema["paths"].values():
        for operation in item.values():
            by_status = out.setdefault(operation["operationId"], {})
            for status, response in operation["responses"].items():
                problem = response.get("content", {}).get("application/problem+json")
                if problem is None:
                    continue
                codes = by_status.setdefault(int(status), set())
                for example in problem.get("examples", {}).values():
                    value = example["value"]
                    assert value["status"] == int(status), (operation["operationId"], value)
                    codes.add(value["code"])
                    codes.update(error["code"] for error in value["errors"])
    return out


def test_provider_rejected_is_documented_as_the_422_it_answers(schema):
    operations = documented_codes(schema)
    for operation_id in ("payments_create", "payments_reversal", "refunds_create"):
        assert "provider_rejected" in operations[operation_id][422], operation_id
    assert all(502 not in statuses for statuses in operations.values())


def test_every_documented_code_is_a_member_with_that_status(schema):
    wrong = [
        (operation_id, status, code)
        for operation_id, statuses in documented_codes(schema).items()
        for status, codes in statuses.items()
        for code in codes
        if code not in Code.__members__.values() or Code(code).http_status != status
    ]
    assert wrong == []


def test_every_code_the_api_can_answer_is_documented(schema):
    documented = {
        code
        for statuses in documented_codes(schema).values()
        for codes in statuses.values()
        for code in codes
    }
    api_codes = {code for code in Code if code.api}
    undocumented = api_codes - documented - set(schema_docs.ANY_ROUTE_CODES)
    assert undocumented == set()
    description = schema["info"]["description"]
    for code in api_codes:
        assert f"| `{code.value}` | {code.http_status} | {code.problem_title} |" in description


def test_every_code_raised_in_the_source_is_documented_with_its_status(schema):
    """The source scan: a code named anywhere in transactions/ or stores/ that the API can
    answer appears in some operation under the catalogue's status."""
    documented = {
        (code, status)
        for statuses in documented_codes(schema).values()
        for status, codes in statuses.items()
        for code in codes
    }
    named = {Code[name] for name in code_references()}
    missing = [
        code
        for code in named
        if code.api
        and code not in schema_docs.ANY_ROUTE_CODES
        and (code.value, code.http_status) not in documented
    ]
    assert missing == []
    assert Code.PROVIDER_REJECTED in named and Code.TERMINAL_BUSY in named


def test_each_operation_documents_what_its_view_declares(schema):
    from transactions.api import views

    operations = documented_codes(schema)
    declared = {
        "payments_create": views.PaymentCreateView,
        "payments_reversal": views.PaymentReversalView,
        "refunds_create": views.RefundCreateView,
        "settlements_create": views.SettlementCreateView,
        "intents_cancel": views.IntentCancelView,
        "intents_retrieve": views.IntentDetailView,
        "intents_list": views.IntentListView,
    }
    declared_codes = {op: view.error_codes for op, view in declared.items()}
    declared_codes["webhook_retrieve"] = views.WebhookView.get_error_codes
    declared_codes["webhook_register"] = views.WebhookView.post_error_codes
    declared_codes["webhook_delete"] = views.WebhookView.delete_error_codes
    for operation_id, codes in declared_codes.items():
        documented = {code for codes in operations[operation_id].values() for code in codes}
        expected = {*codes, *schema_docs.EVERY_OPERATION}
        # A field-only code travels under `validation_error`, which the operation documents.
        assert {c.value for c in expected} <= documented, operation_id


# --- The statuses the catalogue decided, answered by the API ---------------------------------


def test_a_provider_refusal_of_a_payment_answers_422(api_a, terminal_a, credential, monkeypatch):
    from transactions.gateway import GatewayError, PrismaGateway

    def refused(self, **kwargs):
        raise GatewayError("Terminal inexistente", http_status=400, operation="payment_create")

    monkeypatch.setattr(PrismaGateway, "payment_create", refused)
    body = {"terminal": str(terminal_a.public_id), "amount": "15.00"}
    response = post(api_a, "/payments", body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "provider_rejected"
    assert response.json()["status"] == 422
    assert response.json()["title"] == Code.PROVIDER_REJECTED.problem_title


def test_control_characters_are_a_400_of_the_input_and_free_the_key(api_a, terminal_a, credential):
    """They used to pass the serializer and be refused by the services as 422, storing the
    refusal as the key's answer; text_invalid is a 400 of the input like its other causes."""
    body = {"terminal": str(terminal_a.public_id), "amount": "15.00", "reference": "a\x01b"}
    response = post(api_a, "/payments", body, key="ctrl-1")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "text_invalid"
    assert "reference" in [error["field"] for error in response.json()["errors"]]
    assert not IdempotencyRecord.objects.filter(key="ctrl-1").exists()
    assert Intent.objects.count() == 0
