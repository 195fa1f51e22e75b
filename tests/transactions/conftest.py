"""The simulator as the provider, over real HTTP, for every test under tests/transactions/.

`sim` points the persona credential at the live server's /simulator/, registers the credential
and the terminals there, and offers the control endpoints (a person at the terminal, autopilot,
faults, counters).
"""

import httpx
import pytest
from django.core.cache import cache


class Sim:
    """A thin client of the simulator's control endpoints."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def call(self, method: str, path: str, **json) -> dict:
        response = self.http.request(method, f"/control/{path}", json=json or None)
        assert response.status_code < 400, (path, response.status_code, response.text)
        return response.json()

    def register_terminal(self, terminal_id: str, cuit: str) -> None:
        self.call("POST", "terminals", terminal_id=terminal_id, cuit=cuit)

    def pick(self, terminal_id: str, intention_id: str | None = None) -> dict:
        body = {"intention_id": intention_id} if intention_id else {}
        return self.call("POST", f"terminals/{terminal_id}/pick", **body)

    def pay(self, terminal_id: str, card: str = "visa_credito") -> dict:
        return self.call("POST", f"terminals/{terminal_id}/pay", card=card)

    def pick_and_pay(self, terminal_id: str, card: str = "visa_credito") -> dict:
        self.pick(terminal_id)
        return self.pay(terminal_id, card)

    def reject(self, terminal_id: str) -> dict:
        return self.call("POST", f"terminals/{terminal_id}/reject")

    def autopilot(self, terminal_id: str | None = None, **settings) -> dict:
        path = f"terminals/{terminal_id}/autopilot" if terminal_id else "autopilot"
        return self.call("PUT", path, **settings)

    def faults(self, **faults) -> dict:
        return self.call("PUT", "faults", **faults)

    def counters(self) -> dict:
        return self.call("GET", "counters")

    def terminal(self, terminal_id: str) -> dict:
        return self.call("GET", f"terminals/{terminal_id}")

    def close(self):
        self.http.close()


@pytest.fixture
def sim(live_server, transactional_db, merchant, credential, terminal_a, terminal_b):
    """The simulator on the live server, with the persona credential and terminals known."""
    # Tokens cached by an earlier test belong to a simulator state that `reset` wipes.
    cache.clear()
    credential.base_url = f"{live_server.url}/simulator"
    credential.save()
    client = Sim(credential.base_url)
    client.call("POST", "reset", all=True)
    client.call(
        "POST",
        "credentials",
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
