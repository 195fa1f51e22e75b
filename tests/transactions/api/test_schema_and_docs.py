"""The OpenAPI document and the docs page (local assets, no inline script under our CSP)."""

import re

import pytest
import yaml
from drf_spectacular.validation import validate_schema

from tests.transactions.api.support import API


@pytest.fixture
def schema(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_is_valid_openapi_3_of_the_pos_api_only(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/ping",
        "/api/v1/terminals",
        "/api/v1/payments",
        "/api/v1/payments/{public_id}/reversal",
        "/api/v1/refunds",
        "/api/v1/settlements",
        "/api/v1/intents",
        "/api/v1/intents/{public_id}",
        "/api/v1/intents/{public_id}/cancel",
        "/api/v1/webhook",
    }
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"


def test_every_operation_documents_errors_auth_and_idempotency(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            assert "429" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]
            assert operation["security"] == [{"ApiKey": []}]
            if method == "post":
                header = [p for p in operation["parameters"] if p["in"] == "header"]
                assert header[0]["name"] == "Idempotency-Key" and header[0]["required"]
                assert "400" in responses and "409" in responses


def test_main_operations_carry_examples(schema):
    payments = schema["paths"]["/api/v1/payments"]["post"]
    assert payments["requestBody"]["content"]["application/json"]["examples"]
    assert payments["responses"]["201"]["content"]["application/json"]["examples"]
    assert payments["responses"]["409"]["content"]["application/problem+json"]["examples"]
    amount = schema["components"]["schemas"]["PaymentInputRequest"]["properties"]["amount"]
    assert amount["type"] == "string" and amount["pattern"]


def test_description_documents_the_webhook_recipe(schema):
    description = schema["info"]["description"]
    assert "X-ECR-Signature" in description
    assert "hmac.new(secret.encode(), signed, hashlib.sha256)" in description
    assert "Idempotency-Key" in description


def test_docs_page_runs_under_the_csp(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    csp = page.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp
    # No inline script and no CDN: every <script> has a local src.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attrs, body in scripts:
        assert body.strip() == ""
        src = re.search(r'src="([^"]+)"', attrs).group(1)
        assert src.startswith("/"), src
    assert "cdn" not in html.lower()
    init = client.get(re.findall(r'src="(/api/docs/\?[^"]*)"', html)[0].replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


def test_docs_assets_are_served_locally():
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")


def test_throttle_answers_429_with_retry_after(api_a, api_b, settings, credential):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"pos": "3/min"},
    }
    for _ in range(3):
        assert api_a.get(f"{API}/ping").status_code == 200
    throttled = api_a.get(f"{API}/ping")
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    # Per key: another POS is not affected.
    assert api_b.get(f"{API}/ping").status_code == 200
