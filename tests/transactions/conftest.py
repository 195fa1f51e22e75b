"""The simulator as the provider, over real HTTP, for every test under tests/transactions/.

`sim` points the persona credential at the live server's /simulator/, registers the credential
and the terminals there, and offers the control endpoints (a person at the terminal, autopilot,
faults, counters).
"""

import pytest
from django.core.cache import cache

from tests.simulator_client import SimulatorControl


@pytest.fixture
def sim(live_server, transactional_db, merchant, credential, terminal_a, terminal_b):
    """The simulator on the live server, with the persona credential and terminals known."""
    # Tokens cached by an earlier test belong to a simulator state that `reset` wipes.
    cache.clear()
    credential.base_url = f"{live_server.url}/simulator"
    credential.save()
    client = SimulatorControl(credential.base_url)
    client.reset()
    client.register_credential(
        public_key=credential.public_key,
        secret_key=credential.get_secret(),
        cuit=merchant.cuit,
        environment=credential.environment,
        merchant_name=merchant.legal_name,
    )
    for terminal in (terminal_a, terminal_b):
        client.register_terminal(terminal.terminal_id, merchant.cuit)
    yield client
    client.close()
