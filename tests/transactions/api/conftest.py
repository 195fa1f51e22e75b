"""Fixtures of the POS API tests: keys of store A and B, a revoked key, API clients, a webhook
receiver, a fake provider behind a real gateway (`fake_provider`). Plain helpers (`API`,
`post`, `live_post`) live in `tests.transactions.api.support`.

`sim` (tests/transactions/conftest.py) runs the simulator on the live server; tests that only
check the API layer use the Django test client and never reach a provider.
"""

import httpx
import pytest

from stores.services import pos_client_revoke
from tests import factories
from tests.transactions.api.support import API, PAY, Receiver, api_client, prisma_answer
from tests.transactions.gateway.support import GW_PUBLIC_KEY, FakePrisma
from transactions.gateway import PrismaGateway


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


@pytest.fixture
def api_a(key_a):
    return api_client(key_a[1])


@pytest.fixture
def api_b(key_b):
    return api_client(key_b[1])


@pytest.fixture
def api_revoked(revoked_key):
    return api_client(revoked_key[1])


@pytest.fixture
def api_anon(db):
    return api_client(None)


@pytest.fixture
def live_api(live_server, sim, key_a):
    """An httpx client of the live server's API with store A's key (the simulator behind it)."""
    with httpx.Client(
        base_url=f"{live_server.url}{API}",
        headers={"Authorization": f"Api-Key {key_a[1]}"},
        timeout=40,
    ) as client:
        yield client


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fake_provider(monkeypatch, store_a):
    """Store A's credential answered by a FakePrisma through a real PrismaGateway, so the
    provider-call rows are written as in production."""
    credential = factories.make_credential(
        merchants=[store_a.merchant], public_key=GW_PUBLIC_KEY, base_url="https://prisma.test"
    )
    fake = FakePrisma()
    fake.on("POST", PAY, prisma_answer())
    gateway = PrismaGateway(credential, transport=httpx.MockTransport(fake))
    monkeypatch.setattr("transactions.services.create.gateway_for", lambda credential: gateway)
    yield fake
    gateway.close()
