"""OAuth tokens and the Bearer check on business calls."""

import pytest

from tests.simulator.support import BASE, PUBLIC_KEY, TOKEN

pytestmark = pytest.mark.django_db

OAU_401 = {
    "errors": [
        {
            "status": "401",
            "code": "OAU-401",
            "title": "CREDENTIAL NO EXIST",
            "acquirer_message": None,
        }
    ]
}


def test_token_answer(api, client):
    response = client.get(
        TOKEN, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=api.basic()
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token_type", "access_token", "expires_in", "scope", "apiKey"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "paystore_terminals"
    assert body["apiKey"] == PUBLIC_KEY
    assert len(body["access_token"]) >= 32


@pytest.mark.parametrize(
    ("query", "auth"),
    [
        ({"grant_type": "client_credentials"}, ("pk_3f2a9c", "wrong")),
        ({"grant_type": "client_credentials"}, ("nobody", "sk_secret_1")),
        ({}, None),
        ({"grant_type": "password"}, None),
    ],
)
def test_token_refused(api, client, query, auth):
    header = api.basic(*auth) if auth else api.basic()
    response = client.get(TOKEN, query, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == OAU_401


def test_token_without_basic_auth(api, client):
    response = client.get(TOKEN, {"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json() == OAU_401


def test_business_call_needs_a_valid_bearer(api):
    no_token = api.call("POST", f"{BASE}/v1/paystore_terminals/terminal_payments/payments",
                        query={"cuit_cuil": api.cuit}, body={}, token="bogus")  # fmt: skip
    assert no_token.status_code == 401
    (error,) = no_token.json()["errors"]
    assert error["status"] == "401"


def test_expired_token_is_401(api, control, clock):
    control.faults(token_ttl_seconds=60)
    token = api.token()
    assert api.call("GET", f"{BASE}/health/liveness", token=token).status_code == 200
    clock.shift(61)
    assert api.call("GET", f"{BASE}/health/liveness", token=token).status_code == 401
    # A new token works again.
    assert api.call("GET", f"{BASE}/health/liveness", token=api.token()).status_code == 200


def test_ttl_is_reported_in_expires_in(api, client, control):
    control.faults(token_ttl_seconds=5)
    response = client.get(
        TOKEN, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=api.basic()
    )
    assert response.json()["expires_in"] == 5


def test_revoked_tokens_are_401(api, control):
    token = api.token()
    control.faults(revoke_tokens=True)
    assert api.call("GET", f"{BASE}/health/liveness", token=token).status_code == 401
    fresh = api.token()
    assert api.call("GET", f"{BASE}/health/liveness", token=fresh).status_code == 200
    assert control.post("tokens/revoke").json() == {"revoked": 1}
    assert api.call("GET", f"{BASE}/health/liveness", token=fresh).status_code == 401


@pytest.mark.parametrize("path", ["/health/liveness", "/v1/health/liveness"])
def test_liveness(api, client, path):
    assert api.call("GET", f"{BASE}{path}").json() == {"status": "UP"}
    assert client.get(f"{BASE}{path}").status_code == 401
