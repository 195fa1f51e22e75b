"""Fixtures of the gateway tests. Names are prefixed (`gw_`) or specific so they never collide
with the suite-wide personas of `tests/conftest.py`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from django.core.cache import cache

from tests.simulator_client import SimulatorControl
from tests.transactions.gateway.support import (
    GW_CUIT,
    GW_PUBLIC_KEY,
    GW_SECRET,
    TERMINAL_1,
    TERMINAL_2,
    FakePrisma,
    SimWorld,
    make_credential,
    make_merchant,
)
from transactions.gateway import PrismaGateway, gateway_for, reset_gateways


@pytest.fixture(autouse=True)
def _gw_clean_state():
    """Tokens live in the process cache and gateways in a registry: start every test empty."""
    cache.clear()
    reset_gateways()
    yield
    reset_gateways()
    cache.clear()


@pytest.fixture
def gw_merchant(db):
    return make_merchant()


@pytest.fixture
def fake_prisma() -> FakePrisma:
    return FakePrisma()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fake_gateway(db, fake_prisma, sleeps) -> Callable[..., PrismaGateway]:
    """Builds a PrismaGateway over the fake provider; pauses are recorded, not slept."""
    built: list[PrismaGateway] = []

    def build(**credential_kwargs) -> PrismaGateway:
        credential = make_credential(**credential_kwargs)
        gateway = PrismaGateway(
            credential, transport=httpx.MockTransport(fake_prisma), sleep=sleeps.append
        )
        built.append(gateway)
        return gateway

    yield build
    for gateway in built:
        gateway.close()


@pytest.fixture
def sim(live_server, transactional_db, monkeypatch):
    """The simulator on a live server, reset, with our credential and two terminals, and a
    gateway pointed at it. Every token the gateway obtains is collected in `issued_tokens`."""
    base_url = live_server.url + "/simulator"
    control = SimulatorControl(base_url)
    control.reset()
    control.register_credential(public_key=GW_PUBLIC_KEY, secret_key=GW_SECRET, cuit=GW_CUIT)
    for terminal_id in (TERMINAL_1, TERMINAL_2):
        control.register_terminal(terminal_id, GW_CUIT)
    credential = make_credential(base_url=base_url, merchant=make_merchant())
    issued: list[str] = []
    original = PrismaGateway._request_token

    def spy(self):
        token, ttl = original(self)
        issued.append(token)
        return token, ttl

    monkeypatch.setattr(PrismaGateway, "_request_token", spy)
    gateway = gateway_for(credential)
    yield SimWorld(control=control, credential=credential, gateway=gateway, issued_tokens=issued)
    control.close()
