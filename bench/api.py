#!/usr/bin/env python
"""POS API benchmark against a production-like server (gunicorn, PostgreSQL when available).

    .venv/bin/python bench/api.py [--payments 200] [--requests 600] [--concurrency 16]

Sets up a throw-away portal database (SQLite file in a temp dir, or a throw-away PostgreSQL
database when DATABASE_URL is set), starts the simulator as its own process and the portal with
`gunicorn ecrportal.wsgi -w 2 --threads 8` on free loopback ports, seeds a store with one
terminal per payment (a terminal holds one live intention) and many POS keys (the per-key
throttle is not what is measured), then measures, in the same run:

- `GET /api/v1/ping`: the trivial DRF endpoint (auth + throttle + JSON), the yardstick;
- `POST /api/v1/payments` with new Idempotency-Keys (claim, rules, one provider create each);
- the same POSTs replayed with their keys (the stored answer, no provider call);
- `GET /api/v1/intents/{id}` (no wait).

It prints requests/s and p50/p99 latency of each, and each divided by the ping's figures.
Loops are bounded; the servers it started are stopped however it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
MANAGE = str(ROOT / "manage.py")
FERNET_KEY = "p7nWezPIC70-6hBUpYVIxZx9rkBrLoXVBW0wuXy6c4c="  # throw-away, bench only


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """The processes this script started; stopped (by their own process group) on exit."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        self.pg_drop = None

    def start(self, args: list[str], env: dict, log: Path) -> subprocess.Popen:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self.procs.clear()
        if self.pg_drop is not None:
            with contextlib.suppress(Exception):
                self.pg_drop()
            self.pg_drop = None


PROCS = Processes()


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, headers=None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited early; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, headers=headers, timeout=2)
            if response.status_code == 200:
                return
            if response.status_code == 404:
                raise SystemExit(f"{url} answers 404: is the API included in ecrportal/urls.py?")
        time.sleep(0.25)
    raise SystemExit(f"{url} did not come up within 60 s; see {log}")


def portal_env(tmp: Path, sim_base: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="ecrportal.settings",
        # Production-like: DEBUG off. ECR_TESTING only lets the simulator-backed credential be
        # used and keeps the per-process caches simple; it changes nothing on the API path.
        DEBUG="0",
        ECR_TESTING="1",
        ECR_SIMULATOR="0",
        SECRET_KEY="bench-" + uuid.uuid4().hex,
        ECR_ENCRYPTION_KEYS=FERNET_KEY,
        SECURE_SSL_REDIRECT="0",
        LOG_LEVEL="ERROR",
        ECR_SIMULATOR_BASE_URL=sim_base,
    )
    url = os.environ.get("DATABASE_URL", "")
    if url:
        import psycopg

        base, _, _ = url.rpartition("/")
        name = f"ecr_bench_api_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{base}/{name}"

        def drop():
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        PROCS.pg_drop = drop
        print(f"portal db: PostgreSQL, throw-away database {name}")
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(tmp / "portal.sqlite3")
        print(f"portal db: SQLite {env['SQLITE_PATH']}")
    return env


SEED = r"""
import json, sys
from stores.models import Environment, Merchant, Store, Terminal
from stores.services import credential_create, pos_client_create
n_terminals, n_keys, sim_base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
merchant = Merchant.objects.create(cuit="30-71234567-1", legal_name="Bench S.A.")
store = Store.objects.create(merchant=merchant, name="Bench", code="bench",
                             environment=Environment.HOMOLOGATION, pending_timeout_seconds=3600)
credential_create(name="Bench", environment="homologation", base_url=sim_base,
                  public_key="bench-pk", secret_key="bench-sk", merchants=[merchant])
terminals = [Terminal.objects.create(store=store, terminal_id=f"{70000000 + i:08d}",
                                     label=f"Caja {i}") for i in range(n_terminals)]
keys = [pos_client_create(store=store, name=f"POS {i}")[1] for i in range(n_keys)]
print(json.dumps({"terminals": [[str(t.public_id), t.terminal_id] for t in terminals],
                  "keys": keys, "cuit": merchant.cuit}))
"""


def seed(env: dict, n_terminals: int, n_keys: int, sim_base: str) -> dict:
    import json

    for cmd in (["migrate", "--noinput", "-v", "0"], ["createcachetable"]):
        subprocess.run([PY, MANAGE, *cmd], env=env, check=True, cwd=ROOT, timeout=300)
    out = subprocess.run(
        [
            PY,
            "-c",
            "import django; django.setup(); exec(open(0).read())",
            str(n_terminals),
            str(n_keys),
            sim_base,
        ],
        input=SEED,
        env=env,
        check=False,
        cwd=ROOT,
        timeout=300,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"seeding failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(name: str, jobs: list, concurrency: int) -> dict:
    """Runs `jobs` (callables returning a status code) on a pool; timing per request."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def run(job):
        started = time.perf_counter()
        status = job()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, jobs))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "name": name,
        "n": len(latencies),
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=200, help="new payments (terminals)")
    parser.add_argument("--requests", type=int, default=600, help="requests per other scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ecr-bench-api-"))
    try:
        # The simulator, as its own process with its own SQLite.
        sim_env = dict(
            os.environ, DEBUG="1", SQLITE_PATH=str(tmp / "sim.sqlite3"), LOG_LEVEL="ERROR"
        )
        sim_env.pop("DATABASE_URL", None)
        sim_env.pop("REDIS_URL", None)
        for cmd in (["migrate", "--noinput", "-v", "0"], ["createcachetable"]):
            subprocess.run([PY, MANAGE, *cmd], env=sim_env, check=True, cwd=ROOT, timeout=300)
        sim_port = free_port()
        sim_base = f"http://127.0.0.1:{sim_port}/simulator"
        sim_proc = PROCS.start(
            [PY, MANAGE, "runsimulator", "--addr", "127.0.0.1", "--port", str(sim_port)],
            sim_env,
            tmp / "sim.log",
        )
        wait_until_up(f"{sim_base}/control/counters", sim_proc, tmp / "sim.log")

        env = portal_env(tmp, sim_base)
        data = seed(env, args.payments, args.keys, sim_base)
        sim = httpx.Client(base_url=sim_base, timeout=30)
        sim.post("/control/reset", json={"all": True}).raise_for_status()
        sim.post(
            "/control/credentials",
            json={
                "public_key": "bench-pk",
                "secret_key": "bench-sk",
                "cuit": data["cuit"],
                "environment": "homologation",
                "merchant_name": "Bench S.A.",
            },
        ).raise_for_status()
        for _, terminal_id in data["terminals"]:
            sim.post(
                "/control/terminals", json={"terminal_id": terminal_id, "cuit": data["cuit"]}
            ).raise_for_status()

        port = free_port()
        gunicorn = str(Path(PY).parent / "gunicorn")
        web = PROCS.start(
            [
                gunicorn,
                "ecrportal.wsgi",
                "-w",
                "2",
                "--threads",
                "8",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            env,
            tmp / "gunicorn.log",
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        keys = data["keys"]
        wait_until_up(
            f"{base}/ping",
            web,
            tmp / "gunicorn.log",
            headers={"Authorization": f"Api-Key {keys[0]}"},
        )
        print(f"gunicorn -w 2 --threads 8 on {base}; simulator {sim_base}")

        limits = httpx.Limits(max_connections=args.concurrency * 2)
        http = httpx.Client(timeout=60, limits=limits)

        def auth(i: int) -> dict:
            return {"Authorization": f"Api-Key {keys[i % len(keys)]}"}

        # Warm up both workers.
        for i in range(40):
            http.get(f"{base}/ping", headers=auth(i))

        ping = [
            lambda i=i: http.get(f"{base}/ping", headers=auth(i)).status_code
            for i in range(args.requests)
        ]

        posts = []
        for i, (terminal_uuid, _) in enumerate(data["terminals"]):
            body = {"terminal": terminal_uuid, "amount": f"{100 + i}.00", "reference": f"B-{i}"}
            posts.append((auth(i), str(uuid.uuid4()), body))
        created: list[str] = []

        def create(headers, key, body):
            response = http.post(
                f"{base}/payments", json=body, headers={**headers, "Idempotency-Key": key}
            )
            if response.status_code == 201:
                created.append(response.json()["id"])
            return response.status_code

        new = [lambda p=p: create(*p) for p in posts]

        def replay(i: int) -> int:
            headers, key, body = posts[i % len(posts)]
            response = http.post(
                f"{base}/payments", json=body, headers={**headers, "Idempotency-Key": key}
            )
            return response.status_code

        replays = [lambda i=i: replay(i) for i in range(args.requests)]

        results = [measure("GET /ping (yardstick)", ping, args.concurrency)]
        results.append(measure("POST /payments (new key)", new, args.concurrency))
        if not created:
            raise SystemExit(f"no payment was created; see {tmp / 'gunicorn.log'}")
        results.append(measure("POST /payments (replay)", replays, args.concurrency))
        gets = [
            lambda i=i: (
                http.get(f"{base}/intents/{created[i % len(created)]}", headers=auth(i)).status_code
            )
            for i in range(args.requests)
        ]
        results.append(measure("GET /intents/{id}", gets, args.concurrency))
        results.append(measure("GET /ping (again)", ping, args.concurrency))

        counters = sim.get("/control/counters").json()
        yard = results[0]
        print()
        print(
            f"{'scenario':30} {'n':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
            f" {'rps/ping':>9} {'p50/ping':>9} {'p99/ping':>9}  statuses"
        )
        for r in results:
            print(
                f"{r['name']:30} {r['n']:>5} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p99']:>8.1f}"
                f" {r['rps'] / yard['rps']:>9.2f} {r['p50'] / yard['p50']:>9.2f}"
                f" {r['p99'] / yard['p99']:>9.2f}  {r['statuses']}"
            )
        print(
            f"\nprovider creates: {counters.get('creates_total')} for {len(created)} new "
            f"payments and {args.requests} replays (must be equal to the new payments)"
        )
        ok = counters.get("creates_total") == len(created) == len(posts)
        return 0 if ok else 1
    finally:
        PROCS.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
