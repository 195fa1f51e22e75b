"""`manage.py runsimulator` as its own process on a SQLite file, hit by concurrent clients.

This is the set-up of a developer running the portal against a separate simulator; it also
checks that concurrent creates on one terminal store exactly one intention (the live-server
tests cannot: Django shares one in-memory SQLite connection between the server's threads).
"""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings

from tests.simulator.support import CUIT, PUBLIC_KEY, SECRET_KEY, T1, payment_body

PAYMENTS = "/v1/paystore_terminals/terminal_payments/payments"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    database = tmp_path_factory.mktemp("simulator") / "simulator.sqlite3"
    env = {
        **os.environ,
        "SQLITE_PATH": str(database),
        "DATABASE_URL": "",
        "DEBUG": "1",
        "ECR_SIMULATOR": "1",
    }
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, timeout=120)
    subprocess.run(
        [*manage, "simulator_seed", "--public-key", PUBLIC_KEY, "--secret-key", SECRET_KEY,
         "--cuit", CUIT, "--environment", "homologation", "--merchant-name", "DEMO",
         "--terminal", T1],
        env=env, check=True, timeout=60, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runsimulator", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/simulator/control/faults", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serves_only_the_simulator(standalone):
    assert httpx.get(f"{standalone}/admin/").status_code == 404
    assert httpx.get(f"{standalone}/").headers.get("location") == "/simulator/"


def test_concurrent_creates_on_one_terminal_store_exactly_one(standalone):
    with httpx.Client(base_url=f"{standalone}/simulator", timeout=30) as http:
        token = http.get(
            "/v1/oauth/accesstoken",
            params={"grant_type": "client_credentials"},
            auth=(PUBLIC_KEY, SECRET_KEY),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = payment_body(terminals_list=[{"terminal_id": T1}])

        def create(_):
            return http.post(PAYMENTS, params={"cuit_cuil": CUIT}, json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = sorted(response.status_code for response in pool.map(create, range(8)))
        assert codes == [200] + [409] * 7
        assert len(http.get(f"/control/terminals/{T1}").json()["pending"]) == 1

        # And a lost answer over a real socket is a transport error for the client.
        http.put("/control/faults", json={"drop_rate": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/health/liveness", headers=headers)
        http.put("/control/faults", json={"drop_rate": 0})
        assert http.get("/health/liveness", headers=headers).status_code == 200
