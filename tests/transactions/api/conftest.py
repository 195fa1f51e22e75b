"""Fixtures of the POS API tests: keys of store A and B, a revoked key, API clients, helpers.

`sim` (tests/transactions/conftest.py) runs the simulator on the live server; tests that only
check the API layer use the Django test client and never reach a provider.
"""

import uuid

import httpx
import pytest
from rest_framework.test import APIClient

from stores.services import pos_client_revoke
from tests import factories

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def key_a(store_a):
    """(PosClient, raw key) of store A."""
    return factories.make_pos_client(store_a, name="Caja central A")


@pytest.fixture
def key_b(store_b):
    return factories.make_pos_client(store_b, name="Caja B")


@pytest.fixture
def revoked_key(store_a):
    client, raw = factories.make_pos_client(store_a, name="POS dado de baja")
    pos_client_revoke(client=client)
    return client, raw


def _client(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def api_a(key_a):
    return _client(key_a[1])


@pytest.fixture
def api_b(key_b):
    return _client(key_b[1])


@pytest.fixture
def api_revoked(revoked_key):
    return _client(revoked_key[1])


@pytest.fixture
def api_anon(db):
    return _client(None)


def post(client, path: str, body: dict | None = None, *, key: str | None = None, **extra):
    """POST JSON with an Idempotency-Key (a fresh one unless given)."""
    return client.post(
        f"{API}{path}",
        body or {},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
        **extra,
    )


@pytest.fixture
def live_api(live_server, sim, key_a):
    """An httpx client of the live server's API with store A's key (the simulator behind it)."""
    with httpx.Client(
        base_url=f"{live_server.url}{API}",
        headers={"Authorization": f"Api-Key {key_a[1]}"},
        timeout=40,
    ) as client:
        yield client


def live_post(client: httpx.Client, path: str, body: dict, *, key: str | None = None):
    return client.post(path, json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


def make_intent(store, *, terminal=None, credential=None, kind="payment", state="pending", **kw):
    """An intent row written directly (no provider): for tests of the API layer only."""
    from stores.selectors import credential_for_store
    from transactions.models import Intent

    credential = (
        credential
        or credential_for_store(store=store)
        or factories.make_credential(merchants=[store.merchant])
    )
    kw.setdefault("amount", "1000.00" if kind != "settlement" else None)
    kw.setdefault("provider_id", str(uuid.uuid4()))
    intent = Intent.objects.create(
        store=store, credential=credential, kind=kind, state=state, terminal=terminal, **kw
    )
    if terminal is not None:
        intent.offered_terminals.set([terminal])
    return intent


class Receiver:
    """A tiny webhook receiver on 127.0.0.1: records each request, answers from `statuses`
    (then 200)."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ecr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
