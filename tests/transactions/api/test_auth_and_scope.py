"""Every endpoint: no key, a revoked key, a malformed key, another store's key and objects."""

import pytest

from tests.factories import make_intent
from tests.transactions.api.support import API, post
from transactions.models import Intent

ENDPOINTS = [
    ("get", "/ping"),
    ("get", "/terminals"),
    ("get", "/intents"),
    ("get", "/intents/{id}"),
    ("post", "/intents/{id}/cancel"),
    ("post", "/payments"),
    ("post", "/payments/{id}/reversal"),
    ("post", "/refunds"),
    ("post", "/settlements"),
    ("get", "/webhook"),
    ("post", "/webhook"),
    ("delete", "/webhook"),
]


def _call(client, method: str, path: str, body: dict | None = None):
    if method == "post":
        return post(client, path, body)
    return getattr(client, method)(f"{API}{path}")


@pytest.fixture
def payment_a(store_a, terminal_a, credential):
    return make_intent(store_a, terminal=terminal_a, state="approved", batch_number=1)


def _assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith(code)
    assert body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_key_is_401(api_anon, payment_a, method, path):
    response = _call(api_anon, method, path.format(id=payment_a.public_id))
    _assert_problem(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Api-Key")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_revoked_key_is_401(api_revoked, payment_a, method, path):
    response = _call(api_revoked, method, path.format(id=payment_a.public_id))
    _assert_problem(response, 401, "authentication_failed")


@pytest.mark.parametrize(
    "header",
    ["Api-Key", "Api-Key nope", "Api-Key ecr_00000000.wrong", "Bearer abc", "Basic Zm9vOmJhcg=="],
)
def test_malformed_or_unknown_keys_are_401(api_anon, key_a, header):
    api_anon.credentials(HTTP_AUTHORIZATION=header)
    _assert_problem(api_anon.get(f"{API}/terminals"), 401, "authentication_failed")


def test_right_prefix_wrong_secret_is_401(api_anon, key_a):
    client, raw = key_a
    api_anon.credentials(HTTP_AUTHORIZATION=f"Api-Key {client.prefix}.{'x' * 43}")
    _assert_problem(api_anon.get(f"{API}/ping"), 401, "authentication_failed")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/intents/{id}"),
        ("post", "/intents/{id}/cancel"),
        ("post", "/payments/{id}/reversal"),
    ],
)
def test_another_stores_intent_is_404_and_untouched(api_b, payment_a, method, path):
    before = Intent.objects.count()
    response = _call(api_b, method, path.format(id=payment_a.public_id))
    _assert_problem(response, 404, "not_found")
    payment_a.refresh_from_db()
    assert payment_a.state == "approved"
    assert Intent.objects.count() == before


@pytest.mark.parametrize(
    "path", ["/intents/{id}", "/intents/{id}/cancel", "/payments/{id}/reversal"]
)
# A fixed unknown UUID: a random one would differ between xdist workers at collection.
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "5b0c1d2e-0000-4000-8000-000000000000", "1"])
def test_unknown_or_malformed_ids_are_404(api_a, credential, path, bad_id):
    method = "get" if path == "/intents/{id}" else "post"
    _assert_problem(_call(api_a, method, path.format(id=bad_id)), 404, "not_found")


def test_reversal_path_needs_a_payment(api_a, store_a, terminal_a, credential):
    settlement = make_intent(store_a, terminal=terminal_a, kind="settlement", state="approved")
    response = post(api_a, f"/payments/{settlement.public_id}/reversal")
    _assert_problem(response, 404, "not_found")


def test_another_stores_terminal_in_a_body_is_refused_without_rows(api_b, terminal_a, credential):
    for path, body in [
        ("/payments", {"terminal": str(terminal_a.public_id), "amount": "10.00"}),
        ("/payments", {"terminals": [str(terminal_a.public_id)], "amount": "10.00"}),
        ("/refunds", {"terminal": str(terminal_a.public_id), "amount": "10.00"}),
        ("/settlements", {"terminal": str(terminal_a.public_id)}),
    ]:
        body_out = _assert_problem(post(api_b, path, body), 400, "terminal_not_in_store")
        assert body_out["errors"][0]["field"] == "terminal"
    assert Intent.objects.count() == 0


def test_refund_of_another_stores_payment_is_refused(api_b, payment_a, terminal_b):
    response = post(
        api_b,
        "/refunds",
        {
            "terminal": str(terminal_b.public_id),
            "amount": "10.00",
            "original": str(payment_a.public_id),
        },
    )
    body = _assert_problem(response, 400, "validation_error")
    assert body["errors"] == [
        {
            "field": "original",
            "code": "does_not_exist",
            "detail": "Cobro original desconocido en esta sucursal.",
        }
    ]
    assert Intent.objects.count() == 1


def test_lists_only_show_the_keys_store(api_a, api_b, payment_a, terminal_a, terminal_b):
    assert [t["id"] for t in api_b.get(f"{API}/terminals").json()] == [str(terminal_b.public_id)]
    assert [t["id"] for t in api_a.get(f"{API}/terminals").json()] == [str(terminal_a.public_id)]
    assert api_b.get(f"{API}/intents").json()["results"] == []
    assert [i["id"] for i in api_a.get(f"{API}/intents").json()["results"]] == [
        str(payment_a.public_id)
    ]


def test_ping_names_the_store(api_a, store_a):
    response = api_a.get(f"{API}/ping")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "store": store_a.name, "pos_client": "Caja central A"}


def test_outputs_never_carry_internal_ids(api_a, payment_a):
    body = api_a.get(f"{API}/intents/{payment_a.public_id}").json()
    text = str(body)
    assert body["id"] == str(payment_a.public_id)
    assert "'pk'" not in text
    for key in ("store", "credential", "requested_by_pos", "requested_by_user"):
        assert key not in body
    assert body["terminal"]["id"] == str(payment_a.terminal.public_id)
    assert body["terminal"]["terminal_id"] == "11111111"


def test_unknown_api_paths_are_problem_json_404(api_a):
    response = api_a.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"
