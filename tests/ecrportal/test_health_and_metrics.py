"""/healthz, /readyz and /metrics (issue 11, item 23). Project-level routes, outside the
dashboard and API URLconfs the access matrix scans: their access is tested here."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from transactions import metrics, sweeper
from transactions.models import GatewayCall
from transactions.states import Kind, State

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def heartbeat(monkeypatch):
    monkeypatch.setattr(metrics, "_last_heartbeat", 0.0)
    yield
    cache.delete(metrics.HEARTBEAT_KEY)


def _samples(response) -> dict[tuple, float]:
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_answers_without_touching_anything(client):
    # No django_db mark: any query would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failing": {}}


@pytest.mark.django_db
def test_readyz_is_ready_with_a_recent_sweeper_heartbeat(client, heartbeat):
    metrics.sweeper_heartbeat()
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["failing"] == {}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_fails_without_a_sweeper_heartbeat(client, heartbeat):
    response = client.get("/readyz", HTTP_ACCEPT="text/html")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["failing"]) == ["SweeperHeartbeat()"]


@pytest.mark.django_db
def test_readyz_fails_with_a_stale_heartbeat(client, heartbeat):
    stale = time.time() - metrics.HEARTBEAT_STALE_AFTER_SECONDS - 10
    cache.set(metrics.HEARTBEAT_KEY, stale, timeout=None)
    failing = client.get("/readyz").json()["failing"]
    assert "el sweeper no barre hace" in failing["SweeperHeartbeat()"]


@pytest.mark.django_db
def test_readyz_names_a_broker_that_does_not_answer(client, heartbeat, monkeypatch):
    metrics.sweeper_heartbeat()

    def broken():
        raise ConnectionError("down")

    monkeypatch.setattr(metrics, "task_queue_depth", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert list(response.json()["failing"]) == ["TaskBroker()"]


@pytest.mark.django_db
def test_the_sweeper_loop_writes_the_heartbeat(heartbeat):
    assert metrics.sweeper_heartbeat_age() is None
    calls = iter([False, True])
    sweeper.sweeper_loop(seconds=60, tick=0, stop=lambda: next(calls))
    age = metrics.sweeper_heartbeat_age()
    assert age is not None and age < metrics.HEARTBEAT_STALE_AFTER_SECONDS


@pytest.mark.django_db
def test_metrics_is_off_without_a_token(client, monkeypatch):
    monkeypatch.delenv("ECR_METRICS_TOKEN", raising=False)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ñ"]
)
def test_metrics_needs_the_bearer_token(client, monkeypatch, header):
    monkeypatch.setenv("ECR_METRICS_TOKEN", TOKEN)
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"ecr_" not in response.content


@pytest.mark.django_db
def test_metrics_in_prometheus_text_format(
    client, monkeypatch, heartbeat, store_a, terminal_a, django_assert_max_num_queries
):
    monkeypatch.setenv("ECR_METRICS_TOKEN", TOKEN)
    now = timezone.now()
    factories.make_intent(store_a, state=State.PENDING)
    factories.make_intent(store_a, state=State.PENDING)
    factories.make_intent(store_a, state=State.IN_DOUBT)
    factories.make_intent(store_a, kind=Kind.SETTLEMENT, state=State.PROCESSING)
    factories.make_intent(store_a, state=State.PROCESSING, needs_attention=True)
    factories.make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        provider_status_at=now - timedelta(seconds=3),
        finished_at=now,
    )
    GatewayCall.objects.create(
        operation="payment_get", method="GET", path="/p", outcome="ok", duration_ms=120
    )
    GatewayCall.objects.create(
        operation="payment_get", method="GET", path="/p", outcome="retryable", duration_ms=3000
    )
    metrics.sweeper_heartbeat()

    with django_assert_max_num_queries(10):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    samples = _samples(response)

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("ecr_intents_live", kind="payment", state="pending") == 2
    assert value("ecr_intents_live", kind="settlement", state="processing") == 1
    assert ("ecr_intents_live", (("kind", "payment"), ("state", "approved"))) not in samples
    assert value("ecr_intents_recent", kind="payment", state="approved") == 1
    assert value("ecr_intents_in_doubt") == 1
    assert value("ecr_intents_needing_attention") == 1
    # Known 3 s after the provider's final status: above the 2 s bucket, within 5 s.
    assert value("ecr_detection_lag_seconds_bucket", le="2.0") == 0
    assert value("ecr_detection_lag_seconds_bucket", le="5.0") == 1
    assert value("ecr_provider_calls_recent", operation="payment_get") == 2
    assert value("ecr_provider_errors_recent", operation="payment_get", outcome="retryable") == 1
    assert value("ecr_provider_latency_milliseconds_bucket", operation="payment_get", le="250") == 1
    assert (
        value("ecr_provider_latency_milliseconds_bucket", operation="payment_get", le="+Inf") == 2
    )
    assert value("ecr_webhook_backlog") == 0
    assert 0 <= value("ecr_sweeper_heartbeat_age_seconds") < 60
    assert value("ecr_task_queue_depth") >= 0
