#!/usr/bin/env python
"""POS API benchmark on the production configuration: what a request costs each process.

    .venv/bin/python bench/api.py [--payments 200] [--requests 600] [--concurrency 8] [--rounds 4]
        [--warmup 32] [--history 270000]

A quick run while iterating: `--payments 120 --requests 360 --rounds 3` (about 30 s). On a
shared machine CPU per request is noisy: run it 2-3 times and read the median.

The portal runs as it is deployed: `gunicorn -c gunicorn.conf.py ecrportal.wsgi`, `DEBUG=0`,
`ECR_TESTING` unset, persistent database connections with health checks, the Redis cache when
`REDIS_URL` is set (under a key prefix of this run's own; only its keys are deleted afterwards),
else the database cache. PostgreSQL when `DATABASE_URL` is set (a database of its own, created
and dropped by this script), else an SQLite file. On PostgreSQL the store first gets a month of
history (`--history`, 270,000 finished payments with their offered terminals, events, provider
calls and idempotency records: issue 10's store-month), then `VACUUM ANALYZE`: plans and index
maintenance as a deployment has them, not those of an empty database. The simulator is its own
process (`manage.py runsimulator`), so the provider's cost is measured apart from the portal's.

Scenarios, in one run, after an unmeasured warm-up round of all of them (`--warmup` requests
each, so no scenario pays for starting gunicorn threads and their database sessions), in
`--rounds` rounds of all of them (so the load of a shared machine falls on every scenario
alike):

- `GET /api/v1/ping`: a bare DRF GET (auth + throttle + JSON), the yardstick;
- `POST /api/v1/payments` with new Idempotency-Keys (claim, rules, one provider create each);
- the floor of that create (`bench/floor_app.py`: the same writes and provider call through the
  portal's own code, without the checks, reads and document a create also needs), on terminals
  of its own: what the create's goal can be read against;
- the same POSTs replayed with their keys (the stored answer, no provider call);
- `GET /api/v1/intents/{id}` (no wait) and `GET /api/v1/intents?limit=20`.

For each it prints requests/s, p50/p99 latency and the host CPU per request of each process, from
`/proc/<pid>/stat` (user + system) sampled before and after: the gunicorn processes, the
PostgreSQL backends of the bench database (from `/proc/<pid>/schedstat`, in nanoseconds, not
ticks; sampled every 50 ms, so a backend that exits is still counted) and the simulator. `host`
is portal + PostgreSQL; the simulator is the provider and is shown apart (it runs elsewhere in
production), with the wall time of the provider call from the `GatewayCall` rows.

Goals: `POST /payments` >= 0.3x and `GET /intents/{id}` >= 0.8x the ping, as host CPU per
request (ping's cost / the scenario's cost). The floor's own ratio is printed beside the create's
goal: a goal above the floor cannot be met by any create that keeps those writes. The last line
is `api: OK` or `api: FAILED (...)`.
Every loop is bounded (`--deadline`); the processes it started are stopped however it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from urllib.parse import urlsplit, urlunsplit

import httpx
from support import FERNET_KEY, forget_redis_keys

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
MANAGE = str(ROOT / "manage.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOALS = {"POST /payments (new key)": 0.3, "GET /intents/{id}": 0.8}
FLOOR = "POST floor (writes only)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """The processes this script started; stopped (by their own process group) on exit."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        self.cleanups: list = []

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
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self.procs.clear()
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        self.cleanups.clear()


PROCS = Processes()


# --- CPU accounting from /proc ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (all its threads), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time of a single-threaded process (a PostgreSQL backend) to the nanosecond, from
    `/proc/<pid>/schedstat`. `/proc/<pid>/stat` counts in clock ticks (10 ms): a backend serves
    a few milliseconds of one scenario's requests (dozens of backends share them), so each one's
    ticks read 0 or 1 and the scenario's PostgreSQL figure was mostly rounding."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children_of(p)
    return out


def pg_backends(dbname: str) -> list[int]:
    """PostgreSQL backends serving `dbname` (their process title names the database)."""
    needle = f" {dbname} ".encode()
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                title = f.read()
            if title.startswith(b"postgres:") and needle in title:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used by named groups of processes, sampled every 50 ms so short-lived
    processes (a PostgreSQL backend that exits) are still counted up to their last sample."""

    def __init__(self, groups: dict, readers: dict | None = None):
        self.groups = groups  # name -> callable returning the group's pids now
        self.readers = readers or {}  # name -> how to read a pid's CPU seconds (`cpu_seconds`)
        self.seen: dict[str, dict[int, float]] = {name: {} for name in groups}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for name, pids in self.groups.items():
            read = self.readers.get(name, cpu_seconds)
            for pid in pids():
                value = read(pid)
                if value is not None:
                    with self.lock:
                        self.seen[name][pid] = value

    def _loop(self) -> None:
        while not self.stop_event.wait(0.05):
            self.sample()

    def start(self):
        self.sample()
        self.thread.start()
        return self

    def totals(self) -> dict[str, float]:
        self.sample()
        with self.lock:
            return {name: sum(values.values()) for name, values in self.seen.items()}

    def close(self):
        self.stop_event.set()
        self.thread.join(timeout=2)


# --- Setup --------------------------------------------------------------------------------------


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, headers=None) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited early; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, headers=headers, timeout=5)
            if response.status_code == 200:
                return
            if response.status_code == 404:
                raise SystemExit(f"{url} answers 404: is the API included in ecrportal/urls.py?")
        time.sleep(0.25)
    raise SystemExit(f"{url} did not come up within 90 s; see {log}")


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def portal_env(tmp: Path, sim_base: str, run_id: str) -> tuple[dict, str]:
    """The portal's environment (production settings) and the PostgreSQL database name ("" for
    SQLite)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("ECR_TESTING", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ecrportal.settings",
        DEBUG="0",
        ECR_SIMULATOR="0",
        SECRET_KEY="bench-" + uuid.uuid4().hex,
        ECR_ENCRYPTION_KEYS=FERNET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        ECR_SIMULATOR_BASE_URL=sim_base,
        # The simulator stands for the provider: DEBUG=0 accepts only the provider's hosts
        # (and the pinned transport connects only to them) unless the operator lists another.
        ECR_PROVIDER_HOSTS="127.0.0.1",
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
        # Lets the bench delete exactly its own keys from a shared Redis afterwards.
        ECR_CACHE_KEY_PREFIX=f"ecr-bench-api-{run_id}",
    )
    dbname = ""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        import psycopg

        dbname = f"ecr_bench_api_{run_id}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
            conn.execute(f'CREATE DATABASE "{dbname}"')

        def drop():
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

        PROCS.cleanups.append(drop)
        env["DATABASE_URL"] = with_path(url, f"/{dbname}")
        print(f"portal db: PostgreSQL, database {dbname} (dropped at the end)")
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(tmp / "portal.sqlite3")
        print(f"portal db: SQLite {env['SQLITE_PATH']} (no PostgreSQL CPU to measure)")
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        prefix = env["ECR_CACHE_KEY_PREFIX"]

        PROCS.cleanups.append(lambda: forget_redis_keys(redis_url, prefix))
        print(f"cache: Redis {redis_url}, key prefix {prefix}:")
    else:
        print("cache: the database cache (no REDIS_URL)")
    return env, dbname


SEED = r"""
import json, sys
from stores.models import Environment, Merchant, Store, Terminal
from stores.services import credential_create, pos_client_create
n_terminals, n_keys, sim_base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
merchant = Merchant.objects.create(cuit="30-71234567-1", legal_name="Bench S.A.")
store = Store.objects.create(merchant=merchant, name="Bench", code="bench",
                             environment=Environment.HOMOLOGATION, pending_timeout_seconds=3600)
from stores.services import store_set_credential
credential = credential_create(name="Bench", environment="homologation", base_url=sim_base,
                               public_key="bench-pk", secret_key="bench-sk", merchants=[merchant])
# A store charges only with a credential chosen for it, which must have passed "Probar
# conexión" (the simulator learns these keys after seeding, so the test is taken as passed).
from django.utils import timezone
credential.last_tested_ok_at = timezone.now()
credential.save(update_fields=["last_tested_ok_at"])
store_set_credential(store=store, credential=credential)
terminals = [Terminal.objects.create(store=store, terminal_id=f"{70000000 + i:08d}",
                                     label=f"Caja {i}") for i in range(n_terminals)]
keys = [pos_client_create(store=store, name=f"POS {i}")[1] for i in range(n_keys)]
print(json.dumps({"terminals": [[str(t.public_id), t.terminal_id] for t in terminals],
                  "keys": keys, "cuit": merchant.cuit}))
"""


# A month of the bench store's history, generated by PostgreSQL (INSERT ... SELECT): finished
# payments spread over its terminals and days, each with its offered terminal, two events, two
# provider calls and the POS key's idempotency record (the proportions of issue 10's
# store-month). What a request costs depends on it: over a handful of rows the planner picks
# sequential scans and hash joins that no deployment runs, and every insert maintains indexes
# of the ledger's real size.
HISTORY = r"""
import json, sys
from django.db import connection, transaction
sys.path.insert(0, sys.argv[2])
from support import insert_intents
from stores.models import Credential, Store
store = Store.objects.get(code="bench")
params = {
    "n": int(sys.argv[1]),
    "store": store.pk,
    "credential": Credential.objects.get().pk,
    "terminals": list(store.terminals.order_by("pk").values_list("pk", flat=True)),
    "keys": list(store.pos_clients.order_by("pk").values_list("pk", flat=True)),
    "tz": "America/Argentina/Buenos_Aires",
}
source = '''
    FROM (SELECT g, (%(terminals)s::bigint[])[1 + g %% cardinality(%(terminals)s::bigint[])]
                 AS terminal,
                 now() - make_interval(days => 1 + g %% 30, secs => (g * 7919) %% 43200) AS created,
                 round((500 + random() * 149500)::numeric, 2) AS amount
          FROM generate_series(1, %(n)s) g) h
'''
finished = "h.created + interval '30 seconds'"
with transaction.atomic(), connection.cursor() as cursor:
    n = insert_intents(cursor, {
        "kind": "'payment'", "state": "'approved'", "store_id": "%(store)s",
        "credential_id": "%(credential)s", "terminal_id": "h.terminal", "amount": "h.amount",
        "authorized_amount": "h.amount", "reference": "'H-' || h.g", "created_at": "h.created",
        "sent_at": "h.created", "taken_at": "h.created + interval '5 seconds'",
        "finished_at": finished, "updated_at": finished, "transacted_at": finished,
        "provider_status_at": finished,
        "business_day": f"(({finished}) AT TIME ZONE %(tz)s)::date",
        "ecr_transaction_id": "'H-' || h.g", "provider_id": "md5(h.g::text)",
        "provider_status": "'CONFIRMED'", "payment_type": "'CREDIT'", "card_brand": "'VISA'",
        "card_brand_code": "'VI'", "acquirer": "'PRISMA'", "entry_mode": "'CHIP'",
        "card_bin": "'450799'", "card_last_four": "lpad((h.g %% 10000)::text, 4, '0')",
        "authorization_code": "lpad((h.g %% 1000000)::text, 6, '0')",
        "ticket_number": "h.g::text", "batch_number": "100 + h.g %% 30",
        "response_code": "'00'", "response_message": "'APROBADA'",
    }, source, params)
    for statement in (
        '''INSERT INTO transactions_intent_offered_terminals (intent_id, terminal_id)
           SELECT id, terminal_id FROM transactions_intent WHERE store_id = %(store)s''',
        '''INSERT INTO transactions_intentevent (intent_id, created_at, type, from_state,
               to_state, provider_status, actor_label, message)
           SELECT id, created_at, 'created', '', 'created', '', 'POS', ''
           FROM transactions_intent WHERE store_id = %(store)s
           UNION ALL
           SELECT id, finished_at, 'state', 'pending', 'approved', 'CONFIRMED', 'Prisma', ''
           FROM transactions_intent WHERE store_id = %(store)s''',
        '''INSERT INTO transactions_gatewaycall (credential_id, intent_id, operation, method,
               path, http_status, outcome, duration_ms, error, idle_reads, created_at)
           SELECT credential_id, id, v.op, v.m, '/ecr/intentions', 200, 'ok', 80, '', 0,
                  created_at
           FROM transactions_intent,
                (VALUES ('payment_create', 'POST'), ('payment_get', 'GET')) v(op, m)
           WHERE store_id = %(store)s''',
        '''INSERT INTO transactions_idempotencyrecord (pos_client_id, key, fingerprint, method,
               path, state, response_status, response_content_type, intent_id, created_at,
               finished_at)
           SELECT (%(keys)s::bigint[])[1 + id %% cardinality(%(keys)s::bigint[])],
                  gen_random_uuid()::text, md5(id::text), 'POST', '/api/v1/payments', 'done',
                  201, 'application/json', id, created_at, created_at
           FROM transactions_intent WHERE store_id = %(store)s''',
    ):
        cursor.execute(statement, params)
print(json.dumps({"intents": n}))
"""


def seed_history(env: dict, intents: int) -> None:
    """`HISTORY` in the portal's database (PostgreSQL only: it is SQL of the server's)."""
    started = time.monotonic()
    out = run_script(env, HISTORY, str(intents), str(Path(__file__).resolve().parent), timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"seeding the history failed:\n{out.stderr[-3000:]}")
    print(f"history: {intents} finished payments seeded in {time.monotonic() - started:.0f} s")


def run_script(env: dict, script: str, *args: str, timeout: int = 300):
    """Runs `script` in a Django process of the portal's (`sys.argv[1:]` = `args`)."""
    return subprocess.run(
        [PY, "-c", "import django; django.setup(); exec(open(0).read())", *args],
        input=script,
        env=env,
        check=False,
        cwd=ROOT,
        timeout=timeout,
        capture_output=True,
        text=True,
    )


def run_manage(env: dict, *args: str) -> None:
    subprocess.run([PY, MANAGE, *args], env=env, check=True, cwd=ROOT, timeout=300)


def seed(env: dict, n_terminals: int, n_keys: int, sim_base: str) -> dict:
    run_manage(env, "migrate", "--noinput", "-v", "0")
    run_manage(env, "createcachetable")
    out = run_script(env, SEED, str(n_terminals), str(n_keys), sim_base)
    if out.returncode != 0:
        raise SystemExit(f"seeding failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


PROVIDER_CALLS = r"""
import datetime, json, statistics, sys
from transactions.models import GatewayCall
since = datetime.datetime.fromtimestamp(float(sys.argv[1]), datetime.UTC)  # not the history's
ms = sorted(GatewayCall.objects.filter(operation="payment_create", created_at__gte=since)
            .values_list("duration_ms", flat=True))
print(json.dumps({"n": len(ms), "p50": statistics.median(ms) if ms else None,
                  "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else None}))
"""


def provider_call_times(env: dict, since: float) -> dict:
    """The wall time of the provider create calls made since `since` (a Unix time)."""
    out = run_script(env, PROVIDER_CALLS, str(since), timeout=120)
    if out.returncode != 0:
        return {"n": 0, "p50": None, "p99": None}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- Measuring ----------------------------------------------------------------------------------


class Scenario:
    """One scenario's requests, accumulated over the rounds it runs in."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.wall = 0.0
        self.cpu: dict[str, float] = {}
        # Each round's host CPU (s) and requests: how much the ratio moves within one run.
        self.rounds: list[tuple[float, int]] = []

    def run(self, jobs: list, concurrency: int, meter: CpuMeter, deadline: float) -> None:
        """Runs `jobs` (callables returning a status code) on a pool; wall time per request and
        the CPU each process group used meanwhile."""
        lock = threading.Lock()

        def one(job):
            if time.monotonic() > deadline:
                status = -1  # past the deadline: not sent
            else:
                started = time.perf_counter()
                try:
                    status = job()
                except httpx.HTTPError:
                    status = 0
                elapsed = time.perf_counter() - started
                with lock:
                    self.latencies.append(elapsed)
            with lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1

        before = meter.totals()
        sent_before = len(self.latencies)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, jobs))
        self.wall += time.perf_counter() - started
        time.sleep(0.2)  # let the last backends' CPU show in /proc
        after = meter.totals()
        for group in after:
            self.cpu[group] = self.cpu.get(group, 0.0) + after[group] - before[group]
        host = sum(after[g] - before[g] for g in ("portal", "postgres") if g in after)
        self.rounds.append((host, len(self.latencies) - sent_before))

    def round_costs(self) -> list[float]:
        """Host CPU per request (ms) in each round."""
        return [seconds * 1000 / n for seconds, n in self.rounds if n]

    def summary(self) -> dict:
        latencies = sorted(self.latencies) or [0.0]
        n = max(1, len(self.latencies))
        cpu = {group: seconds * 1000 / n for group, seconds in self.cpu.items()}
        return {
            "name": self.name,
            "n": len(self.latencies),
            "rps": len(self.latencies) / self.wall if self.wall else 0.0,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "statuses": self.statuses,
            "cpu": cpu,
            "host": cpu["portal"] + cpu["postgres"],
        }


def chunks(items: list, parts: int) -> list[list]:
    size = -(-len(items) // parts)
    return [items[i * size : (i + 1) * size] for i in range(parts)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=200, help="new payments (terminals)")
    parser.add_argument("--requests", type=int, default=600, help="requests per other scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keys", type=int, default=50, help="POS keys the requests rotate over")
    parser.add_argument("--workers", type=int, default=2, help="GUNICORN_WORKERS")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of all the scenarios")
    parser.add_argument(
        "--history",
        type=int,
        default=270_000,
        help="finished payments of history seeded first (PostgreSQL; 0: none)",
    )
    parser.add_argument("--deadline", type=float, default=900, help="seconds for the whole run")
    parser.add_argument(
        "--warmup", type=int, default=32, help="unmeasured requests per scenario, first"
    )
    args = parser.parse_args()
    deadline = time.monotonic() + args.deadline
    started = time.time()  # the provider calls of this run are the ones made after it
    run_id = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"

    tmp = Path(tempfile.mkdtemp(prefix="ecr-bench-api-"))
    meter = None
    try:
        # The simulator, as its own process with its own SQLite (it stands for the provider).
        sim_env = dict(
            os.environ, DEBUG="1", SQLITE_PATH=str(tmp / "sim.sqlite3"), LOG_LEVEL="ERROR"
        )
        for name in ("DATABASE_URL", "REDIS_URL", "ECR_TESTING"):
            sim_env.pop(name, None)
        run_manage(sim_env, "migrate", "--noinput", "-v", "0")
        run_manage(sim_env, "createcachetable")
        sim_port = free_port()
        sim_base = f"http://127.0.0.1:{sim_port}/simulator"
        sim_proc = PROCS.start(
            [PY, MANAGE, "runsimulator", "--addr", "127.0.0.1", "--port", str(sim_port)],
            sim_env,
            tmp / "sim.log",
        )
        wait_until_up(f"{sim_base}/control/counters", sim_proc, tmp / "sim.log")

        env, dbname = portal_env(tmp, sim_base, run_id)
        env["GUNICORN_WORKERS"] = str(args.workers)
        # Terminals for the creates, their warm-up and the floor's creates (each its own: the
        # provider refuses an intention on a terminal that holds one).
        data = seed(env, 2 * (args.payments + args.warmup), args.keys, sim_base)
        if dbname and args.history:
            seed_history(env, args.history)
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

        gunicorn = str(Path(PY).parent / "gunicorn")
        # The portal's application with the floor's route added (`bench/floor_app.py`).
        web = PROCS.start(
            [
                gunicorn,
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--pythonpath",
                str(ROOT / "bench"),
                "floor_app:application",
            ],
            env,
            tmp / "gunicorn.log",
        )
        base = f"http://{env['GUNICORN_BIND']}/api/v1"
        keys = data["keys"]
        # TLS ends at the proxy in production; it says so with X-Forwarded-Proto.
        common = {"X-Forwarded-Proto": "https"}
        wait_until_up(
            f"{base}/ping",
            web,
            tmp / "gunicorn.log",
            headers={**common, "Authorization": f"Api-Key {keys[0]}"},
        )
        print(
            f"gunicorn -c gunicorn.conf.py ({args.workers} workers x "
            f"{env.get('GUNICORN_THREADS', '10')} threads) on {base}; simulator {sim_base}"
        )

        meter = CpuMeter(
            {
                "portal": lambda: process_tree(web.pid),
                "postgres": (lambda: pg_backends(dbname)) if dbname else (lambda: []),
                "simulator": lambda: process_tree(sim_proc.pid),
            },
            # The gunicorn workers and the simulator are multi-threaded (`stat` sums every
            # thread, those that ended too) and use enough CPU for ticks to be precise.
            readers={"postgres": backend_cpu_seconds},
        ).start()

        # Idle connections are dropped before gunicorn's keep-alive (2 s) closes them: reusing
        # one the server is closing at that moment fails the request (a transport error).
        limits = httpx.Limits(max_connections=args.concurrency * 2, keepalive_expiry=1.0)
        http = httpx.Client(timeout=60, limits=limits)

        def auth(i: int) -> dict:
            return {**common, "Authorization": f"Api-Key {keys[i % len(keys)]}"}

        # Warm up the first worker threads and their database connections.
        for i in range(100):
            http.get(f"{base}/ping", headers=auth(i))

        def ping(i: int) -> int:
            return http.get(f"{base}/ping", headers=auth(i)).status_code

        posts = []
        for i, (terminal_uuid, _) in enumerate(data["terminals"]):
            body = {"terminal": terminal_uuid, "amount": f"{100 + i}.00", "reference": f"B-{i}"}
            posts.append((auth(i), str(uuid.uuid4()), body))
        creates = args.payments + args.warmup
        posts, floor_posts = posts[:creates], posts[creates:]
        floor_created: list[str] = []
        created: list[str] = []
        answered: list[tuple] = []  # posts that created their intent: the replays' keys

        def create(post) -> int:
            headers, key, body = post
            response = http.post(
                f"{base}/payments", json=body, headers={**headers, "Idempotency-Key": key}
            )
            if response.status_code == 201:
                created.append(response.json()["id"])
                answered.append(post)
            return response.status_code

        def create_floor(post) -> int:
            headers, key, body = post
            response = http.post(
                f"{base}/bench/payments-floor",
                json=body,
                headers={**headers, "Idempotency-Key": key},
            )
            if response.status_code == 201:
                floor_created.append(response.json()["id"])
            return response.status_code

        def replay(i: int) -> int:
            headers, key, body = answered[i % len(answered)]
            response = http.post(
                f"{base}/payments", json=body, headers={**headers, "Idempotency-Key": key}
            )
            return response.status_code

        def get_intent(i: int) -> int:
            url = f"{base}/intents/{created[i % len(created)]}"
            return http.get(url, headers=auth(i)).status_code

        def list_intents(i: int) -> int:
            return http.get(f"{base}/intents?limit=20", headers=auth(i)).status_code

        # An unmeasured round of every scenario at the measured concurrency: gunicorn starts
        # threads as concurrency needs them, each with its own PostgreSQL session whose backend
        # loads the catalog of every table it touches the first time. Paid once per thread per
        # CONN_MAX_AGE in production, that cost fell on whichever scenario first reached a new
        # thread (and on few requests: a run is short), so it is paid here, for every scenario.
        warm_jobs = [lambda p=p: create(p) for p in posts[: args.warmup]]
        warm_jobs += [lambda p=p: create_floor(p) for p in floor_posts[: args.warmup]]
        for call in (ping, replay, get_intent, list_intents):
            warm_jobs += [lambda i=i, call=call: call(i) for i in range(args.warmup)]
        with ThreadPoolExecutor(args.concurrency) as pool:
            for job in warm_jobs[: args.warmup]:
                pool.submit(job)
        with ThreadPoolExecutor(args.concurrency) as pool:
            warm_statuses = list(pool.map(lambda job: job(), warm_jobs[args.warmup :]))
        if not created or any(status not in (200, 201) for status in warm_statuses):
            raise SystemExit(f"the warm-up round failed; see {tmp / 'gunicorn.log'}")
        if dbname:
            # Statistics as autovacuum keeps them in production: a database created a minute
            # ago has none, and the planner then picks scans of every live intent for the busy
            # and reference checks (rows the warm-up round just wrote), costs no deployment has.
            import psycopg

            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")

        # Rounds of every scenario in turn, so the load of a shared machine falls on all alike.
        scenarios = {
            name: Scenario(name)
            for name in (
                "GET /ping (yardstick)",
                "POST /payments (new key)",
                FLOOR,
                "POST /payments (replay)",
                "GET /intents/{id}",
                "GET /intents?limit=20",
            )
        }
        post_rounds = chunks(posts[args.warmup :], args.rounds)
        floor_rounds = chunks(floor_posts[args.warmup :], args.rounds)
        per_round = max(1, args.requests // args.rounds)
        c = args.concurrency
        for r in range(args.rounds):
            base_i = r * per_round
            plan = [
                ("GET /ping (yardstick)", ping, per_round),
                ("POST /payments (new key)", None, 0),
                (FLOOR, None, 0),
                ("POST /payments (replay)", replay, per_round),
                ("GET /intents/{id}", get_intent, per_round),
                ("GET /intents?limit=20", list_intents, max(1, per_round // 3)),
            ]
            for name, call, count in plan:
                if name == FLOOR:
                    jobs = [lambda p=p: create_floor(p) for p in floor_rounds[r]]
                elif call is None:
                    jobs = [lambda p=p: create(p) for p in post_rounds[r]]
                else:
                    jobs = [lambda i=base_i + i, call=call: call(i) for i in range(count)]
                if call is not None and call is not ping and not created:
                    raise SystemExit(f"no payment was created; see {tmp / 'gunicorn.log'}")
                scenarios[name].run(jobs, c, meter, deadline)
        meter.close()
        results = [scenario.summary() for scenario in scenarios.values()]
        replays_sent = sum(scenarios["POST /payments (replay)"].statuses.values())

        counters = sim.get("/control/counters").json()
        calls = provider_call_times(env, started)
        yard_host, yard_rps = results[0]["host"], results[0]["rps"]
        print()
        print(
            "CPU in ms per request: portal = gunicorn processes, pg = PostgreSQL backends of the "
            "bench database, host = portal + pg, sim = the simulator (the provider, apart)."
        )
        print("x ping = the ping's host CPU / this scenario's host CPU (higher is cheaper).")
        print(
            f"{'scenario':26} {'n':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'portal':>7} {'pg':>6} {'host':>6} {'sim':>6} {'x ping':>7} {'rps/ping':>8}"
            "  statuses"
        )
        for r in results:
            cpu = r["cpu"]
            print(
                f"{r['name']:26} {r['n']:>4} {r['rps']:>7.1f} {r['p50']:>7.1f} {r['p99']:>7.1f} "
                f"{cpu['portal']:>7.2f} {cpu['postgres']:>6.2f} {r['host']:>6.2f} "
                f"{cpu['simulator']:>6.2f} {yard_host / r['host']:>7.2f} "
                f"{r['rps'] / yard_rps:>8.2f}  {r['statuses']}"
            )
        if calls["p50"] is not None:
            print(
                f"\nprovider create call (GatewayCall.duration_ms, wall, includes the simulator): "
                f"p50 {calls['p50']} ms, p99 {calls['p99']} ms over {calls['n']} calls"
            )
        print(
            f"provider creates: {counters.get('creates_total')} for {len(created)} new payments "
            f"({args.warmup} of them warming up), {len(floor_created)} floor creates and "
            f"{replays_sent} replays (must equal the new payments and the floor's)"
        )

        failures = []
        if not (
            counters.get("creates_total") == len(created) + len(floor_created)
            and len(created) == len(posts)
            and len(floor_created) == len(floor_posts)
        ):
            failures.append("provider creates != new payments + floor creates")
        by_name = {r["name"]: r for r in results}
        yard_rounds = scenarios["GET /ping (yardstick)"].round_costs()
        for name, goal in GOALS.items():
            ratio = yard_host / by_name[name]["host"]
            # The verdict is the whole run's; each round's ratio (against the ping of the same
            # round) shows how much a shared machine moved it.
            per_round = [
                p / c for p, c in zip(yard_rounds, scenarios[name].round_costs(), strict=False)
            ]
            spread = " ".join(f"{r:.2f}" for r in per_round)
            print(f"goal: {name} {ratio:.2f}x ping (>= {goal}); by round: {spread}")
            if name == "POST /payments (new key)":
                floor = yard_host / by_name[FLOOR]["host"]
                print(
                    f"      its floor (the same writes and provider call, nothing else): "
                    f"{floor:.2f}x ping; the create costs {floor / ratio:.2f}x its floor"
                )
            if ratio < goal:
                failures.append(f"{name} {ratio:.2f}x ping < {goal}")
        for r in results:
            bad = {s: n for s, n in r["statuses"].items() if s not in (200, 201)}
            if bad:
                failures.append(f"{r['name']}: statuses {bad}")
        print("api: OK" if not failures else f"api: FAILED ({'; '.join(failures)})")
        return 0 if not failures else 1
    except SystemExit as exc:
        print(f"api: FAILED ({exc})")
        return 1
    finally:
        if meter is not None:
            meter.close()
        PROCS.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
