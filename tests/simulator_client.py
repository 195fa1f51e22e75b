"""A client of the simulator's control endpoints (`/simulator/control/...`) for tests.

Tests act as a person at the terminal (pick, pay, reject), switch the autopilot and faults on,
and read the counters through it, over real HTTP like the portal itself.
"""

import httpx


class SimulatorControl:
    """The simulator's control endpoints at `base_url` (a credential's base URL)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def call(self, method: str, path: str, **json) -> dict:
        response = self.http.request(method, f"/control/{path}", json=json or None)
        assert response.status_code < 400, (path, response.status_code, response.text[:300])
        return response.json()

    def reset(self, *, everything: bool = True) -> dict:
        return self.call("POST", "reset", all=everything)

    def register_credential(
        self,
        *,
        public_key: str,
        secret_key: str,
        cuit: str,
        environment: str = "homologation",
        merchant_name: str = "ALMACEN DEMO SA",
    ) -> dict:
        return self.call(
            "POST",
            "credentials",
            public_key=public_key,
            secret_key=secret_key,
            cuit=cuit,
            environment=environment,
            merchant_name=merchant_name,
        )

    def register_terminal(self, terminal_id: str, cuit: str) -> dict:
        return self.call(
            "POST", "terminals", terminal_id=terminal_id, cuit=cuit, serial="6A123456", model="A910"
        )

    def act(self, terminal_id: str, action: str, **body) -> dict:
        """A person at the terminal: `pick`, `pay` (card=...), `qr`, `reject`."""
        return self.call("POST", f"terminals/{terminal_id}/{action}", **body)

    def pick(self, terminal_id: str, intention_id: str | None = None) -> dict:
        body = {"intention_id": intention_id} if intention_id else {}
        return self.act(terminal_id, "pick", **body)

    def pay(self, terminal_id: str, card: str = "visa_credito") -> dict:
        return self.act(terminal_id, "pay", card=card)

    def pick_and_pay(self, terminal_id: str, card: str = "visa_credito") -> dict:
        self.pick(terminal_id)
        return self.pay(terminal_id, card)

    def reject(self, terminal_id: str) -> dict:
        return self.act(terminal_id, "reject")

    def autopilot(self, terminal_id: str | None = None, **settings) -> dict:
        path = f"terminals/{terminal_id}/autopilot" if terminal_id else "autopilot"
        return self.call("PUT", path, **settings)

    def faults(self, **faults) -> dict:
        return self.call("PUT", "faults", **faults)

    def counters(self) -> dict:
        return self.call("GET", "counters")

    def terminal(self, terminal_id: str) -> dict:
        """The terminal's screen as data: pending list, current intention, open batch."""
        return self.call("GET", f"terminals/{terminal_id}")

    def close(self):
        self.http.close()
