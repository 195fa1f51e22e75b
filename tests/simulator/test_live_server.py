"""The simulator over real HTTP (pytest-django's live server) with httpx, as the gateway sees it."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import connection

from tests.simulator.support import CUIT, PUBLIC_KEY, SECRET_KEY, T2, payment_body

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "/v1/paystore_terminals/terminal_payments/payments"


@pytest.fixture
def http(live_server, sim_terminals):
    base = f"{live_server.url}/simulator"
    with httpx.Client(base_url=base, timeout=10) as client:
        yield client


def _ago(seconds: int) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def _token(http) -> str:
    response = http.get(
        "/v1/oauth/accesstoken",
        params={"grant_type": "client_credentials"},
        auth=(PUBLIC_KEY, SECRET_KEY),
    )
    assert response.status_code == 200
    return response.json()["access_token"]


def test_payment_life_over_http(http):
    headers = {"Authorization": f"Bearer {_token(http)}"}
    created = http.post(PAYMENTS, params={"cuit_cuil": CUIT}, json=payment_body(), headers=headers)
    assert created.status_code == 200
    assert created.headers["content-type"] == "application/json"
    payment_id = created.json()["payment_data"]["payment_id"]

    assert http.post(f"/control/terminals/{T2}/pick", json={}).json()["id"] == payment_id
    assert (
        http.post(f"/control/terminals/{T2}/pay", json={"card": "visa_debito"}).status_code == 200
    )

    read = http.get(
        f"{PAYMENTS}/{payment_id}",
        params={"subnet_acquirer_id": "9", "cuit_cuil": CUIT},
        headers=headers,
    )
    data = read.json()["payment_data"]
    assert (data["payment_status"], data["payment_type"]) == ("CONFIRMED", "DEBIT")
    assert http.get("/health/liveness", headers=headers).json() == {"status": "UP"}


def test_lost_answer_is_a_transport_error_and_the_intention_exists(http):
    headers = {"Authorization": f"Bearer {_token(http)}"}
    assert http.put("/control/faults", json={"drop_rate": 1}).status_code == 200

    with pytest.raises(httpx.RemoteProtocolError):
        http.post(
            PAYMENTS,
            params={"cuit_cuil": CUIT},
            json=payment_body(ecr_transaction_id="LOST-HTTP"),
            headers=headers,
        )

    assert http.put("/control/faults", json={"drop_rate": 0}).status_code == 200
    found = http.post(
        f"{PAYMENTS}/searches",
        params={"cuit_cuil": CUIT},
        json={"date_from": _ago(600), "date_to": _ago(-60), "ecr_transaction_id": "LOST-HTTP"},
        headers=headers,
    )
    (adopted,) = found.json()["payments"]
    assert adopted["payment_data"]["payment_status"] == "PAYMENT_REQUEST"
    counters = http.get("/control/counters").json()
    assert counters["creates_by_ecr_transaction_id"] == {"LOST-HTTP": 1}
    state = http.get(f"/control/terminals/{T2}").json()
    assert [item["ecr_transaction_id"] for item in state["pending"]] == ["LOST-HTTP"]


def test_plain_text_503_over_http(http):
    http.put("/control/faults", json={"error_rate": 1, "plain_text_errors": True, "seed": 1})
    response = http.get("/health/liveness")
    assert response.status_code in (500, 503)
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the live server shares one SQLite connection between its threads; "
    "test_runsimulator.py covers concurrency on a SQLite file",
)
def test_concurrent_creates_on_one_terminal_store_exactly_one(http):
    headers = {"Authorization": f"Bearer {_token(http)}"}
    body = payment_body(terminals_list=[{"terminal_id": T2}])

    def create(_):
        return http.post(PAYMENTS, params={"cuit_cuil": CUIT}, json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(r.status_code for r in pool.map(create, range(6)))
    assert codes == [200, 409, 409, 409, 409, 409]
    assert len(http.get(f"/control/terminals/{T2}").json()["pending"]) == 1
