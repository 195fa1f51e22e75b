"""Chaos on the production topology (issue 11, item 25): PostgreSQL, Redis, gunicorn, two
`qcluster` and the simulator as its own process, all with `DEBUG=0` (README "Production-like on
one machine"). Tills charge through the POS API with Idempotency-Keys while the provider is slow,
fails and loses answers, one worker dies by SIGKILL and every database connection is cut.

Afterwards: nothing lost (every accepted POST's intent exists and is final or flagged), nothing
doubled (at most one provider create per ecr_transaction_id, one intent per key), every intent
settled within its timeout, and no key left locked (a replay answers the key's intent).

Run by `.ci/run` with `-m chaos` when PostgreSQL (CI_POSTGRES_URL, default 127.0.0.1:5432) and
Redis (CHAOS_REDIS_URL, default 127.0.0.1:6379) answer; skipped otherwise; left out of
`make test` (pyproject's addopts). A few minutes: every loop is bounded in count and time."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from tests.chaos.topology import Topology, postgres_reachable, redis_reachable

# The whole topology under faults takes a few minutes; the suite's 600 s per test is too short
# for it on a busy machine, and its own loops are bounded anyway.
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1800)]

PAYMENTS_PER_TERMINAL = 8
# Cents decide the autopilot's outcome (simulator.engine.MAGIC_CENTS): .00 approves, .51
# declines, .52 ends in error, .55 confirms but the create's answer never arrives.
CENTS_PLAN = (0, 0, 51, 0, 55, 0, 52, 0)
FAULTS = {
    "latency_ms": 40,
    "error_rate": 0.1,
    "drop_rate": 0.15,
    # Past the portal's read timeout (ECR_GATEWAY_READ_TIMEOUT_MS=3000 in the topology).
    "lost_answer_sleep_ms": 4000,
}
AUTOPILOT = {"enabled": True, "pick_delay_ms": 300, "processing_ms": 400}
# A till gives up one payment after this long (the terminal stayed busy, the portal was down).
POST_SECONDS = 90
# How long a till waits for the outcome before it moves on; the final check waits again.
OUTCOME_SECONDS = 60
# After the last acceptance: the demo stores' pending timeout (120 s) plus a margin.
SETTLE_SECONDS = 240
SETTLED_STATES = {"approved", "declined", "failed", "cancelled"}
RETRY_CODES = {"terminal_busy", "provider_unavailable", "idempotency_request_in_progress"}


@dataclass
class Payment:
    store: str
    key: str
    body: dict
    intent_id: str | None = None
    refusals: list[str] = field(default_factory=list)


@dataclass
class Run:
    accepted: list[Payment] = field(default_factory=list)
    given_up: list[Payment] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def accept(self, payment: Payment) -> int:
        with self.lock:
            self.accepted.append(payment)
            return len(self.accepted)


def _api(topology: Topology, store: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{topology.portal_url}/api/v1",
        headers={"Authorization": f"Api-Key {topology.pos_keys[store]}"},
        timeout=30,
    )


def _post_until_answered(api: httpx.Client, payment: Payment, run: Run) -> None:
    """A real till: the same Idempotency-Key on every retry of 5xx, network errors and the
    retryable refusals; bounded in time."""
    deadline = time.monotonic() + POST_SECONDS
    while time.monotonic() < deadline and not run.stop.is_set():
        try:
            response = api.post(
                "/payments", json=payment.body, headers={"Idempotency-Key": payment.key}
            )
        except httpx.TransportError as exc:
            payment.refusals.append(exc.__class__.__name__)
            time.sleep(0.5)
            continue
        if response.status_code in (200, 201):
            payment.intent_id = response.json()["id"]
            return
        code = _code(response)
        payment.refusals.append(f"{response.status_code} {code}")
        if response.status_code >= 500 or response.status_code == 429 or code in RETRY_CODES:
            time.sleep(1.0)
            continue
        with run.lock:
            run.unexpected.append(f"{payment.key}: {response.status_code} {response.text[:300]}")
        return


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def _intent(api: httpx.Client, intent_id: str) -> dict | None:
    try:
        response = api.get(f"/intents/{intent_id}")
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _answered(intent: dict | None) -> bool:
    """What a till waits for: an outcome, or the portal saying it is in doubt."""
    return intent is not None and (intent["state"] in SETTLED_STATES | {"in_doubt"})


def _settled(intent: dict | None) -> bool:
    """Final, or raised to a person (an in-doubt create not found within its fast search)."""
    return intent is not None and (intent["state"] in SETTLED_STATES or intent["needs_attention"])


def _till(topology: Topology, store: str, terminal: dict, index: int, run: Run) -> None:
    with _api(topology, store) as api:
        for number in range(PAYMENTS_PER_TERMINAL):
            if run.stop.is_set():
                return
            cents = CENTS_PLAN[number % len(CENTS_PLAN)]
            reference = f"chaos-{topology.run_id}-{index}-{number}"
            payment = Payment(
                store=store,
                key=f"key-{reference}",
                body={
                    "terminal": terminal["id"],
                    "amount": f"{100 + number}.{cents:02d}",
                    "reference": reference,
                },
            )
            _post_until_answered(api, payment, run)
            if payment.intent_id is None:
                with run.lock:
                    run.given_up.append(payment)
                continue
            accepted = run.accept(payment)
            if accepted in (10, 25):
                run_chaos_step(topology, accepted)
            deadline = time.monotonic() + OUTCOME_SECONDS
            while time.monotonic() < deadline and not run.stop.is_set():
                if _answered(_intent(api, payment.intent_id)):
                    break
                time.sleep(0.5)


def run_chaos_step(topology: Topology, accepted: int) -> None:
    """At the 10th accepted payment a worker dies mid-run and a new one starts; at the 25th
    PostgreSQL cuts every connection of the portal's database."""
    if accepted == 10:
        topology.kill("qcluster-1")
        topology.start("qcluster-3", topology.qcluster_command())
    else:
        topology.terminate_backends()


def test_payments_survive_faults_a_killed_worker_and_cut_connections():
    # Checked here, not in a skipif: collection (also of `make test`, which deselects this)
    # never waits for a server.
    unreachable = postgres_reachable() or redis_reachable()
    if unreachable:
        pytest.skip(unreachable)
    started = time.monotonic()
    with Topology() as topology:
        control = httpx.Client(base_url=f"{topology.simulator_url}/control", timeout=10)
        assert control.put("/autopilot", json=AUTOPILOT).status_code == 200
        assert control.put("/faults", json=FAULTS).status_code == 200
        tills = []
        for store in sorted(topology.pos_keys):
            with _api(topology, store) as api:
                terminals = api.get("/terminals").json()
            tills += [(store, terminal) for terminal in terminals]
        assert len(tills) == 6, tills

        run = Run()
        threads = [
            threading.Thread(target=_till, args=(topology, store, terminal, index, run))
            for index, (store, terminal) in enumerate(tills)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=PAYMENTS_PER_TERMINAL * (POST_SECONDS + OUTCOME_SECONDS))
        finally:
            run.stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert "qcluster-3" in topology.processes, "the worker was never killed"

        assert run.unexpected == []
        # Most payments went through despite everything. A till gives up a payment while its
        # terminal stays held by an in-doubt create (a 500 may have acted: up to 2 minutes).
        total = len(tills) * PAYMENTS_PER_TERMINAL
        assert len(run.accepted) >= total * 3 // 4, [p.refusals for p in run.given_up]

        # Nothing lost: every accepted intent exists and settles (final, or flagged for a
        # person) within its timeout.
        deadline = time.monotonic() + SETTLE_SECONDS
        last: dict[str, dict | None] = {}
        apis = {store: _api(topology, store) for store in topology.pos_keys}
        try:
            while time.monotonic() < deadline:
                for payment in run.accepted:
                    if not _settled(last.get(payment.key)):
                        last[payment.key] = _intent(apis[payment.store], payment.intent_id)
                if all(_settled(last[p.key]) for p in run.accepted):
                    break
                time.sleep(2)
            unsettled = {
                p.key: last[p.key] and last[p.key]["state"]
                for p in run.accepted
                if not _settled(last[p.key])
            }
            assert unsettled == {}

            # No key locked after the crash: each replays its own intent.
            for payment in run.accepted:
                response = apis[payment.store].post(
                    "/payments", json=payment.body, headers={"Idempotency-Key": payment.key}
                )
                assert response.status_code in (200, 201), (payment.key, response.text[:300])
                assert response.headers.get("Idempotent-Replayed") == "true", payment.key
                assert response.json()["id"] == payment.intent_id, payment.key
        finally:
            for api in apis.values():
                api.close()

        # Nothing doubled: one intent per key, one provider create per ecr_transaction_id.
        assert len({p.intent_id for p in run.accepted}) == len(run.accepted)
        creates = control.get("/counters").json()["creates_by_ecr_transaction_id"]
        doubled = {reference: n for reference, n in creates.items() if n > 1}
        assert doubled == {}
        intents = topology.query(
            "SELECT count(*), count(DISTINCT ecr_transaction_id) FROM transactions_intent"
            " WHERE kind = 'payment'"
        )
        assert intents[0][0] == intents[0][1] >= len(run.accepted), intents
        control.close()
        states = Counter(
            f"{state}{'+flagged' if flagged else ''}"
            for state, flagged in topology.query(
                "SELECT state, needs_attention FROM transactions_intent WHERE kind = 'payment'"
            )
        )
        refused = Counter(r for p in run.accepted + run.given_up for r in p.refusals)
    print(
        f"chaos run: {len(run.accepted)} accepted, {len(run.given_up)} given up, states "
        f"{dict(states)}, refusals {dict(refused)}, {time.monotonic() - started:.0f} s"
    )
