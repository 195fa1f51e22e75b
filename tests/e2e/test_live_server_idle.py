"""The live server's requests in flight: a test's database is flushed only once they are done."""

import threading
import time

import httpx
import pytest

SLOW_MS = 3000


@pytest.fixture
def slow_request(simulated):
    """A provider call on the live server that takes SLOW_MS, started in a thread of its own."""
    control = f"{simulated.url}/simulator/control"
    httpx.put(f"{control}/faults", json={"latency_ms": SLOW_MS}, timeout=10).raise_for_status()
    answers: list[int] = []
    thread = threading.Thread(
        target=lambda: answers.append(
            httpx.get(f"{simulated.url}/simulator/v1/oauth/accesstoken", timeout=30).status_code
        )
    )
    yield thread, answers
    thread.join(timeout=30)
    httpx.put(f"{control}/faults", json={"latency_ms": 0}, timeout=10).raise_for_status()


def _started(requests_in_flight, within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not requests_in_flight.in_flight:
        assert time.monotonic() < deadline, "the request never reached the live server"
        time.sleep(0.01)


def test_waiting_for_idle_outlasts_a_request_in_flight(requests_in_flight, slow_request):
    thread, answers = slow_request
    thread.start()
    _started(requests_in_flight)
    requests_in_flight.wait_idle()
    assert requests_in_flight.in_flight == 0
    thread.join(timeout=30)
    assert answers, "the slow request never answered"


def test_a_request_that_never_ends_is_named_not_waited_for_forever(
    requests_in_flight, slow_request
):
    thread, _ = slow_request
    thread.start()
    _started(requests_in_flight)
    with pytest.raises(AssertionError, match=r"still had 1 request\(s\) in flight"):
        requests_in_flight.wait_idle(timeout_s=0.05)
    requests_in_flight.wait_idle()
