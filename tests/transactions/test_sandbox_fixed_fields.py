"""Issue 14 item 2: with a sandbox credential the portal sends the sandbox's fixed fields
(contract §6), and the simulator in strict sandbox mode accepts the payment; without them it
would answer 400."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from stores.models import Environment
from tests import factories
from tests.simulator_client import SimulatorControl
from transactions import services
from transactions.states import State

SANDBOX_CUIT = "30-12345678-9"


@pytest.fixture
def sandbox_store(live_server, transactional_db):
    cache.clear()
    merchant = factories.make_merchant(cuit=SANDBOX_CUIT, sandbox_only=True)
    store = factories.make_store(merchant, environment=Environment.SANDBOX)
    credential = factories.make_credential(
        merchants=[merchant],
        environment=Environment.SANDBOX,
        base_url=f"{live_server.url}/simulator",
    )
    terminal = factories.make_terminal(store, terminal_id="12345678")
    control = SimulatorControl(credential.base_url)
    control.reset()
    control.register_credential(
        public_key=credential.public_key,
        secret_key=credential.get_secret(),
        cuit=SANDBOX_CUIT,
        environment="sandbox",
        merchant_name="SANDBOX",
    )
    control.register_terminal("12345678", SANDBOX_CUIT)
    control.faults(sandbox_fixed_data=True)
    yield store, terminal
    control.close()


def test_the_simulator_in_strict_sandbox_accepts_the_portals_payment(sandbox_store):
    store, terminal = sandbox_store
    intent = services.payment_create(store=store, terminals=[terminal], amount=Decimal("15.00"))
    assert intent.state == State.PENDING, intent.state
    assert intent.provider_id
