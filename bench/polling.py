#!/usr/bin/env python
"""Polling benchmark: N payments on the simulator's autopilot, the sweeper and POS long-polls.

    .venv/bin/python bench/polling.py [--sizes 50,200,1000] [--quick]

Sets up a throw-away portal database (SQLite file in a temp dir, or a throw-away PostgreSQL
database when DATABASE_URL is set), starts the simulator as its own process on a free loopback
port (with its own SQLite file), creates N terminals on autopilot with a seeded spread of time at
the terminal, then per run: creates N payments (one per terminal) from a creator thread while the
sweeper runs in the main thread; a fraction of them is "watched" (`intent_refresh(wait=30)` in a
bounded pool, like POS long-polls). One extra run has the simulator's lost-answer fault at 5 %.

Per run it prints:
- provider reads per intent / the minimum the backoff schedule allows (sweeper schedule from
  `next_poll_at`, or the 0.5 s watch interval once a watcher started), from the simulator's
  own read counters (GatewayCall `*_get` rows shown as a cross-check);
- database write transactions on intent tables per state change (creation counts as one);
  the sweeper's claim/reschedule transactions (one per sweep, for a whole batch) are shown both
  included and excluded; GatewayCall inserts and other writes (cache, queue) are shown apart;
- detection lag (portal `finished_at` - provider `payment_status_date`) p50/p95;
- provider creates per intent (must be exactly 1.000: the script exits 1 otherwise);
- CPU seconds of this process (sweeper + watchers + creator) and of the simulator;
- CPU per payment of the sweeper and the watchers (this process without the creator thread and
  without the bench's own PostgreSQL sampler thread, shown apart, plus PostgreSQL's CPU for our
  database without the creator's backend) against the floor:
  the reads the provider served times one bare read and parse, plus the state changes times one
  bare write transaction (guarded UPDATE + event row), both measured in the same run; goal <= 2x;
- idle reads (reads that changed nothing) and how many of them became GatewayCall rows, and
  the sum of `GatewayCall.idle_reads` (the idle reads those rows stand for);
- the intents that went in doubt, their provider searches each, and the most searches one of
  them cost in its first 2 minutes (the backoff's budget: 12);
- database connections this process opened during the run and, on PostgreSQL, the peak number
  of connections to the throw-away database (sampled every 0.1 s).

PostgreSQL's CPU is that of the backends serving the throw-away database, read from /proc every
0.1 s and when this process closes a connection (the whole server's, other databases included,
is shown apart).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from support import FERNET_KEY, forget_redis_keys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {
    "reads": 1.1,
    "writes": 1.2,
    "lag_watched": 1.0,
    "lag_unwatched": 3.0,
    "cpu_floor": 2.0,
    "searches_2min": 12,
}


# --- process plumbing --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cleanup:
    """Stops the simulator and drops the throw-away database, once, however we exit."""

    def __init__(self):
        self.sim_proc: subprocess.Popen | None = None
        self.pg_drop = None
        self.redis_forget = None
        self.done = False

    def __call__(self, *_):
        if self.done:
            return
        self.done = True
        proc = self.sim_proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: only what we started
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self.pg_drop is not None:
            with contextlib.suppress(Exception):
                self.pg_drop()
        if self.redis_forget is not None:
            with contextlib.suppress(Exception):
                self.redis_forget()


CLEANUP = Cleanup()


def _on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def proc_cpu_seconds(pid: int) -> float | None:
    """user+system CPU of another process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def postgres_server_cpu() -> float | None:
    """CPU seconds of the local PostgreSQL server: every postgres process, plus the children the
    postmaster has reaped (backends of closed connections). None when it is not visible here."""
    tck = os.sysconf("SC_CLK_TCK")
    total, seen = 0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm not in ("postgres", "postmaster"):
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        seen = True
        total += int(fields[11]) + int(fields[12])
        try:
            parent = (Path("/proc") / fields[1] / "comm").read_text().strip()
        except OSError:
            parent = ""
        if parent not in ("postgres", "postmaster"):  # the postmaster: add its reaped children
            total += int(fields[13]) + int(fields[14])
    return total / tck if seen else None


def backend_cpu(conn) -> float | None:
    """CPU seconds of the PostgreSQL backend serving this Django connection (same machine)."""
    if conn.vendor != "postgresql":
        return None
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return proc_cpu_seconds(pid)


class ConnectionWatch:
    """Counts connections this process opens and samples PostgreSQL's connections to our db."""

    def __init__(self):
        self.opened = 0
        self.peak = 0
        self.own_cpu = 0.0  # the sampler thread's own CPU during the run
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def on_created(self, sender, connection, **kwargs):
        with self.lock:
            self.opened += 1

    def start(self):
        from django.db import connection  # noqa: PLC0415

        self.opened, self.peak, self.own_cpu = 0, 0, 0.0
        self._stop.clear()
        if connection.vendor != "postgresql":
            return
        import psycopg  # noqa: PLC0415

        url = os.environ["DATABASE_URL"]
        name = connection.settings_dict["NAME"]

        self.pid_cpu: dict[int, float] = {}
        self.baseline: dict[int, float] = {}

        def live_pids(conn):
            return [
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                    " AND pid <> pg_backend_pid()",
                    [name],
                ).fetchall()
            ]

        def sample():
            # This thread is the bench's own instrument: its CPU (a query and a /proc read per
            # backend ten times a second, about 2 ms per payment) is taken out of the sweeper's.
            t0 = time.thread_time()
            with psycopg.connect(url, autocommit=True) as conn:
                for pid in live_pids(conn):
                    self.baseline[pid] = proc_cpu_seconds(pid) or 0.0
                while not self._stop.wait(0.1):
                    pids = live_pids(conn)
                    self.peak = max(self.peak, len(pids))
                    for pid in pids:
                        cpu = proc_cpu_seconds(pid)
                        if cpu is not None:
                            self.pid_cpu[pid] = max(cpu, self.pid_cpu.get(pid, 0.0))
                    self.own_cpu = time.thread_time() - t0

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def db_cpu(self) -> float | None:
        """CPU of the backends of our database during the run (sampled every 0.1 s: a backend
        that ended loses at most its last 0.1 s), without other databases on the server."""
        if not hasattr(self, "pid_cpu"):
            return None
        return sum(cpu - self.baseline.get(pid, 0.0) for pid, cpu in self.pid_cpu.items())


CONNS = ConnectionWatch()


def measure_floor(*, credential, merchant, intent_pk, provider_id, k=100, k_write=300) -> dict:
    """CPU of one bare provider read and parse (no row written) and of one bare state-change
    write (guarded UPDATE of the intent + one event row, in one transaction), averaged over k
    reads and k_write writes, in this process and in PostgreSQL (our backend).

    PostgreSQL's CPU is read from /proc in clock ticks (10 ms): 40 writes cost it about 20 ms,
    so the write floor moved by half between runs (0.9-1.8 ms); 300 put a tick under 4 %."""
    from django.db import connection, transaction  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    from transactions.gateway import gateway_for  # noqa: PLC0415
    from transactions.gateway.client import PrismaGateway  # noqa: PLC0415
    from transactions.models import Intent, IntentEvent  # noqa: PLC0415

    gateway = gateway_for(credential)
    gateway.token()
    real_record = PrismaGateway._record
    PrismaGateway._record = lambda *args, **kwargs: None  # bare: no GatewayCall row
    try:
        t0 = time.thread_time()
        for _ in range(k):
            gateway.payment_get(cuit=merchant.cuit, payment_id=provider_id, intent_id=intent_pk)
        read_cpu = (time.thread_time() - t0) / k
    finally:
        PrismaGateway._record = real_record
    state = Intent.objects.values_list("state", flat=True).get(pk=intent_pk)
    db0, t0 = backend_cpu(connection), time.thread_time()
    for _ in range(k_write):
        with transaction.atomic():
            Intent.objects.filter(pk=intent_pk, state=state).update(updated_at=timezone.now())
            IntentEvent.objects.create(
                intent_id=intent_pk, type=IntentEvent.Type.NOTE, message="floor"
            )
    write_cpu = (time.thread_time() - t0) / k_write
    db1 = backend_cpu(connection)
    write_db = (db1 - db0) / k_write if db0 is not None and db1 is not None else 0.0
    IntentEvent.objects.filter(intent_id=intent_pk, message="floor").delete()
    return {"read": read_cpu, "write": write_cpu + write_db}


def prepare_environment(tmp: Path) -> dict:
    """Env for this process (portal) and for the simulator; creates the PG database if needed."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecrportal.settings"
    os.environ["ECR_SWEEPER_CHAIN"] = "0"
    os.environ.pop("ECR_TESTING", None)
    os.environ.setdefault("LOG_LEVEL", "ERROR")  # gateway warnings on lost answers are expected
    # The simulator stands for the provider (it runs elsewhere in production): its own process,
    # its own SQLite, its development settings.
    sim_env = dict(os.environ, DEBUG="1")
    for name in ("DATABASE_URL", "REDIS_URL", "ECR_SIMULATOR", "SECRET_KEY"):
        sim_env.pop(name, None)
    sim_env["SQLITE_PATH"] = str(tmp / "sim.sqlite3")
    # This process is the portal's worker as deployed: DEBUG=0 (no query log wrapped around
    # every statement), its secrets set, the simulator's loopback host accepted as the provider
    # (DEBUG=0 accepts only the provider's hosts otherwise).
    os.environ.update(
        DEBUG="0",
        ECR_SIMULATOR="0",
        SECRET_KEY="bench-" + os.urandom(16).hex(),
        ECR_ENCRYPTION_KEYS=FERNET_KEY,
        ECR_PROVIDER_HOSTS="127.0.0.1",
    )
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        # Its own key prefix on a shared Redis, and only its keys deleted afterwards.
        prefix = f"ecr-bench-polling-{os.getpid()}"
        os.environ["ECR_CACHE_KEY_PREFIX"] = prefix

        CLEANUP.redis_forget = lambda: forget_redis_keys(redis_url, prefix)
        print(f"cache: Redis {redis_url}, key prefix {prefix}:")
    url = os.environ.get("DATABASE_URL", "")
    if url:
        import psycopg  # noqa: PLC0415  (only needed for PostgreSQL)

        path, sep, query = url.partition("?")
        base, _, _ = path.rpartition("/")
        admin_url = path
        name = f"ecr_bench_{os.getpid()}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = f"{base}/{name}{sep}{query}"

        def drop():
            from django.db import connections  # noqa: PLC0415

            connections.close_all()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        CLEANUP.pg_drop = drop
        print(f"portal db: PostgreSQL, throw-away database {name}")
    else:
        os.environ["SQLITE_PATH"] = str(tmp / "portal.sqlite3")
        print(f"portal db: SQLite {os.environ['SQLITE_PATH']}")
    return sim_env


def start_simulator(sim_env: dict, tmp: Path) -> str:
    py = sys.executable
    manage = str(ROOT / "manage.py")
    for cmd in (["migrate", "--noinput", "-v", "0"], ["createcachetable"]):
        subprocess.run([py, manage, *cmd], env=sim_env, check=True, cwd=ROOT, timeout=180)
    port = free_port()
    log = open(tmp / "sim.log", "wb")  # noqa: SIM115 (lives as long as the process)
    CLEANUP.sim_proc = subprocess.Popen(
        [py, manage, "runsimulator", "--addr", "127.0.0.1", "--port", str(port)],
        env=sim_env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/simulator"
    import httpx  # noqa: PLC0415

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if CLEANUP.sim_proc.poll() is not None:
            raise SystemExit(f"simulator exited early; see {tmp / 'sim.log'}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/control/counters", timeout=2).status_code == 200:
                return base
        time.sleep(0.2)
    raise SystemExit("simulator did not come up within 30 s")


class Sim:
    def __init__(self, base_url: str):
        import httpx  # noqa: PLC0415

        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.lock = threading.Lock()

    def call(self, method: str, path: str, **json) -> dict:
        response = self.http.request(method, f"/control/{path}", json=json or None)
        if response.status_code >= 400:
            raise RuntimeError(f"simulator {method} {path}: {response.status_code} {response.text}")
        return response.json()


# --- write counting ----------------------------------------------------------------------------

_WRITE_RE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
INTENT_TABLES = {
    "transactions_intent",
    "transactions_intentevent",
    "transactions_intent_offered_terminals",
}


class WriteCounter:
    """Counts write transactions per category on every connection of this process.

    Inside an atomic block, all writes of the outermost block count once (per category);
    autocommit statements count one each. The sweeper's claim (`claim_due`) is marked via a
    thread-local so its batch reschedule is reported apart.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.local = threading.local()
        self.reset()

    def reset(self):
        with self.lock:
            self.intent_txns = 0
            self.claim_txns = 0
            self.gwcall_inserts = 0
            self.other: dict[str, int] = {}

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        match = _WRITE_RE.match(sql) if isinstance(sql, str) else None
        if not match:
            return result
        table = match.group(1).lower()
        conn = context["connection"]
        if table in INTENT_TABLES:
            category = "claim" if getattr(self.local, "claiming", False) else "intent"
        elif table == "transactions_gatewaycall":
            category = "gwcall"
        else:
            category = "other:" + table
        if conn.in_atomic_block and conn.atomic_blocks:
            block = conn.atomic_blocks[0]
            seen = getattr(conn, "_bench_block", None)
            if seen is None or seen[0] is not block:
                seen = (block, set())
                conn._bench_block = seen
            if category in seen[1]:
                return result
            seen[1].add(category)
        with self.lock:
            if category == "intent":
                self.intent_txns += 1
            elif category == "claim":
                self.claim_txns += 1
            elif category == "gwcall":
                self.gwcall_inserts += 1
            else:
                self.other[table] = self.other.get(table, 0) + 1
        return result


WRITES = WriteCounter()


def install_write_counter():
    from django.db import connections  # noqa: PLC0415
    from django.db.backends.signals import connection_created  # noqa: PLC0415

    def attach(sender, connection, **kwargs):
        if WRITES not in connection.execute_wrappers:
            connection.execute_wrappers.append(WRITES)

    connection_created.connect(attach, weak=False)
    connection_created.connect(CONNS.on_created, weak=False)
    from django.db.backends.postgresql.base import DatabaseWrapper  # noqa: PLC0415

    real_close = DatabaseWrapper._close

    def close(self):  # a backend's CPU, read just before its connection ends
        with contextlib.suppress(Exception):
            pid = self.connection.info.backend_pid
            cpu = proc_cpu_seconds(pid)
            if cpu is not None and hasattr(CONNS, "pid_cpu"):
                CONNS.pid_cpu[pid] = max(cpu, CONNS.pid_cpu.get(pid, 0.0))
        return real_close(self)

    DatabaseWrapper._close = close
    for conn in connections.all():
        if WRITES not in conn.execute_wrappers:
            conn.execute_wrappers.append(WRITES)

    from transactions import sweeper  # noqa: PLC0415

    # The claim that sweep_once calls (claim_due_intents, or claim_due before it existed).
    name = "claim_due_intents" if hasattr(sweeper, "claim_due_intents") else "claim_due"
    real_claim = getattr(sweeper, name)

    def claim(**kwargs):
        WRITES.local.claiming = True
        try:
            return real_claim(**kwargs)
        finally:
            WRITES.local.claiming = False

    setattr(sweeper, name, claim)


# --- schedule minimum --------------------------------------------------------------------------


def min_reads(sent, created, finish_after: float, watch_start: float | None, watch_s: float):
    """Reads needed to see a provider finish `finish_after` s after send, polled on the sweeper's
    backoff schedule (`next_poll_at`: the delay rounded to the nearest second) and, once a watcher
    started `watch_start` s after send, every `watch_s` s from that moment."""
    from transactions.backoff import next_poll_at  # noqa: PLC0415

    fake = SimpleNamespace(state="pending", sent_at=sent, created_at=created)
    reads, age = 0, 0.0
    while True:
        moment = sent + timedelta(seconds=age)
        age += (next_poll_at(fake, now=moment) - moment).total_seconds()
        if watch_start is not None and age > watch_start:
            break
        reads += 1
        if age >= finish_after:
            return reads
    # Watcher: reads at watch_start, +watch_s, ... until one at or after the finish.
    k = max(0, math.ceil((finish_after - watch_start) / watch_s - 1e-9))
    return reads + k + 1


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    idx = max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))
    return values[idx]


# --- one run -----------------------------------------------------------------------------------


def run_once(*, label, n, ctx, drop_rate, watched_fraction, cap, rng):
    from django.conf import settings  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415

    from transactions import sweeper  # noqa: PLC0415
    from transactions.errors import IntentRuleError  # noqa: PLC0415
    from transactions.gateway import gateway_for  # noqa: PLC0415
    from transactions.models import GatewayCall, Intent, IntentEvent  # noqa: PLC0415
    from transactions.services import intent_refresh, payment_create  # noqa: PLC0415
    from transactions.states import FINAL_STATES  # noqa: PLC0415

    sim, store, credential, terminals = ctx["sim"], ctx["store"], ctx["credential"], ctx["terms"]
    sim.call("PUT", "faults", drop_rate=0.0)
    gateway_for(credential).token()  # warm the token before answers start getting lost
    sim.call("PUT", "faults", drop_rate=drop_rate, seed=rng.randint(1, 10**6))

    watched = set(rng.sample(range(n), round(n * watched_fraction)))
    amounts = [Decimal(f"{rng.randint(100, 99999)}.00") for _ in range(n)]  # cents 00: approve
    refs = [f"{label}-{i:05d}" for i in range(n)]
    watch_start: dict[int, float] = {}  # intent pk -> seconds after send
    sent_wall: dict[int, float] = {}
    errors: list[str] = []
    creator_done = threading.Event()
    stop = threading.Event()
    watch_pool = ThreadPoolExecutor(max_workers=20, thread_name_prefix="watch")

    def watch(intent):
        try:
            if stop.is_set():
                return
            start = time.time()
            if intent.sent_at is not None:
                watch_start[intent.pk] = start - intent.sent_at.timestamp()
            intent_refresh(intent=intent, wait=30)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"watch {intent.pk}: {exc!r}")
        finally:
            connection.close()

    creator_cpu = {"process": 0.0, "db": 0.0}

    def creator():
        t0 = time.thread_time()
        try:
            for i in range(n):
                if stop.is_set():
                    break
                try:
                    intent = payment_create(
                        store=store, terminals=[terminals[i]], amount=amounts[i], reference=refs[i]
                    )
                except IntentRuleError as exc:
                    errors.append(f"create {refs[i]}: {exc.code}")
                    continue
                sent_wall[intent.pk] = time.time()
                if i in watched:
                    watch_pool.submit(watch, intent)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"creator: {exc!r}")
        finally:
            creator_cpu["process"] = time.thread_time() - t0
            with contextlib.suppress(Exception):
                creator_cpu["db"] = backend_cpu(connection) or 0.0
            connection.close()
            creator_done.set()

    WRITES.reset()
    pg_cpu0 = postgres_server_cpu() if connection.vendor == "postgresql" else None
    CONNS.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    sim_cpu0 = proc_cpu_seconds(CLEANUP.sim_proc.pid)
    creator_thread = threading.Thread(target=creator, name="creator", daemon=True)
    creator_thread.start()
    concurrency = settings.ECR_POLL_CONCURRENCY
    deadline = wall0 + cap
    polls, last_check, timed_out = 0, 0.0, False
    # Like sweeper_loop: one poller pool (threads and their connections) for the whole run.
    pool = sweeper.PollerPool(concurrency) if hasattr(sweeper, "PollerPool") else None
    sweep_kwargs = {"pool": pool} if pool is not None else {"concurrency": concurrency}
    try:
        while True:
            now = time.monotonic()
            if now > deadline:
                timed_out = True
                break
            count = sweeper.sweep_once(limit=200, **sweep_kwargs)
            polls += count
            if creator_done.is_set() and now - last_check > 0.5:
                last_check = now
                left = (
                    Intent.objects.filter(reference__startswith=f"{label}-")
                    .exclude(state__in=sorted(FINAL_STATES))
                    .count()
                )
                if left == 0:
                    break
            if count == 0:
                time.sleep(0.25)
    finally:
        if pool is not None:
            pool.close()
        stop.set()
        creator_thread.join(timeout=60)
        watch_pool.shutdown(wait=True, cancel_futures=True)
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    sampler_cpu = CONNS.own_cpu
    sim_cpu1 = proc_cpu_seconds(CLEANUP.sim_proc.pid)
    CONNS.stop()
    pg_cpu1 = postgres_server_cpu() if pg_cpu0 is not None else None
    pg_server_cpu = None if pg_cpu0 is None or pg_cpu1 is None else pg_cpu1 - pg_cpu0
    pg_cpu = CONNS.db_cpu() if pg_cpu0 is not None else None
    conns_opened, conns_peak = CONNS.opened, CONNS.peak
    sim_cpu = None if sim_cpu0 is None or sim_cpu1 is None else sim_cpu1 - sim_cpu0
    writes = (WRITES.intent_txns, WRITES.claim_txns, WRITES.gwcall_inserts, dict(WRITES.other))
    sim.call("PUT", "faults", drop_rate=0.0)

    # --- gather -----------------------------------------------------------------------------
    rows = list(
        Intent.objects.filter(reference__startswith=f"{label}-").values(
            "pk",
            "reference",
            "provider_id",
            "state",
            "created_at",
            "sent_at",
            "provider_status_at",
            "finished_at",
        )
    )
    pks = [r["pk"] for r in rows]
    counters = sim.call("GET", "counters")
    creates_by_ref = counters["creates_by_ecr_transaction_id"]
    reads_by_pid = {str(k): v for k, v in counters["reads_by_intention_id"].items()}
    gw_gets: dict[int, int] = {}
    for intent_id in GatewayCall.objects.filter(
        intent_id__in=pks, operation__endswith="_get"
    ).values_list("intent_id", flat=True):
        gw_gets[intent_id] = gw_gets.get(intent_id, 0) + 1
    state_changes = 0
    sweeper_changes = 0  # not the creator's (created -> pending is part of payment_create)
    for frm, to in IntentEvent.objects.filter(intent_id__in=pks).values_list(
        "from_state", "to_state"
    ):
        if frm != to:
            state_changes += 1
            if frm not in ("", "created"):
                sweeper_changes += 1
    # Provider searches per intent that was ever in doubt (every search is a GatewayCall row),
    # and how many of them fell in its first 2 minutes (the backoff's budget: about a dozen).
    doubted = dict(
        Intent.objects.filter(
            pk__in=IntentEvent.objects.filter(intent_id__in=pks, to_state="in_doubt").values(
                "intent_id"
            )
        ).values_list("pk", "created_at")
    )
    searches: dict[int, list[int]] = {pk: [0, 0] for pk in doubted}  # all, first 2 minutes
    for intent_id, at in GatewayCall.objects.filter(
        intent_id__in=list(doubted), operation="payment_search"
    ).values_list("intent_id", "created_at"):
        searches[intent_id][0] += 1
        if (at - doubted[intent_id]).total_seconds() < 120:
            searches[intent_id][1] += 1
    idle_counted = None
    if any(f.name == "idle_reads" for f in GatewayCall._meta.fields):
        from django.db.models import Sum  # noqa: PLC0415

        from transactions.gateway import IDLE_READS  # noqa: PLC0415

        idle_counted = (
            GatewayCall.objects.filter(intent_id__in=pks).aggregate(n=Sum("idle_reads"))["n"] or 0
        ) + sum(IDLE_READS.pending(pk) for pk in pks)
    reads_total = sum(reads_by_pid.get(str(r["provider_id"]), 0) for r in rows)
    gets_total = sum(gw_gets.values())
    sample = next((r for r in rows if r["provider_id"]), None)
    floor = (
        measure_floor(
            credential=credential,
            merchant=store.merchant,
            intent_pk=sample["pk"],
            provider_id=sample["provider_id"],
        )
        if sample
        else {"read": 0.0, "write": 0.0}
    )

    creates = [creates_by_ref.get(ref, 0) for ref in refs]
    states: dict[str, int] = {}
    reads = {"u": [0, 0, 0], "w": [0, 0, 0]}  # actual (sim), minimum, actual (GatewayCall)
    lags = {"u": [], "w": []}
    watched_pks = {r["pk"] for r in rows if int(r["reference"].rsplit("-", 1)[1]) in watched}
    watch_s = settings.ECR_WATCH_INTERVAL_MS / 1000
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
        group = "w" if r["pk"] in watched_pks else "u"
        if r["state"] not in FINAL_STATES or not (r["sent_at"] and r["provider_status_at"]):
            continue
        finish_after = (r["provider_status_at"] - r["sent_at"]).total_seconds()
        ws = watch_start.get(r["pk"]) if group == "w" else None
        reads[group][0] += reads_by_pid.get(str(r["provider_id"]), 0)
        reads[group][1] += min_reads(r["sent_at"], r["created_at"], finish_after, ws, watch_s)
        reads[group][2] += gw_gets.get(r["pk"], 0)
        if r["finished_at"]:
            lags[group].append((r["finished_at"] - r["provider_status_at"]).total_seconds())
    intent_txns, claim_txns, gw_inserts, other = writes
    return {
        "label": label,
        "n": n,
        "drop": drop_rate,
        "rows": len(rows),
        "final": sum(v for k, v in states.items() if k in FINAL_STATES),
        "states": states,
        "wall": wall,
        "timed_out": timed_out,
        "polls": polls,
        "reads": reads,
        "lags": lags,
        "n_watched": len(watched_pks),
        "creates": creates,
        "creates_total": sum(creates_by_ref.get(ref, 0) for ref in refs),
        "state_changes": state_changes,
        "intent_txns": intent_txns,
        "claim_txns": claim_txns,
        "gw_inserts": gw_inserts,
        "other": other,
        "cpu": cpu,
        "sim_cpu": sim_cpu,
        "errors": errors,
        "creator_cpu": creator_cpu,
        "sampler_cpu": sampler_cpu,
        "pg_cpu": pg_cpu,
        "pg_server_cpu": pg_server_cpu,
        "floor": floor,
        "reads_total": reads_total,
        "gets_total": gets_total,
        "idle_counted": idle_counted,
        "sweeper_changes": sweeper_changes,
        "conns_opened": conns_opened,
        "conns_peak": conns_peak,
        "searches": searches,
    }


# --- report ------------------------------------------------------------------------------------


def fmt(v, spec=".2f"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def ratio(a, b):
    return a / b if b else float("nan")


def report(results) -> bool:
    """Prints the table; returns whether creates/intent is exactly 1.000 everywhere."""
    cols = [
        f"{r['label']} N={r['n']}" + (f" drop {r['drop']:.0%}" if r["drop"] else "")
        for r in results
    ]
    lines: list[tuple[str, list[str], str]] = []

    def row(name, values, goal=""):
        lines.append((name, values, goal))

    row(
        "final / created",
        [f"{r['final']}/{r['rows']}" + (" CAP" if r["timed_out"] else "") for r in results],
    )
    row("watched intents", [str(r["n_watched"]) for r in results])
    row("wall seconds", [fmt(r["wall"], ".1f") for r in results])
    for g, name in (("u", "unwatched"), ("w", "watched")):
        row(
            f"reads/min {name} (sim)",
            [fmt(ratio(r["reads"][g][0], r["reads"][g][1]), ".3f") for r in results],
            f"<= {GOALS['reads']}",
        )
        row(
            f"  reads {name} actual/min",
            [f"{r['reads'][g][0]}/{r['reads'][g][1]}" for r in results],
        )
        row(f"  GatewayCall *_get {name}", [str(r["reads"][g][2]) for r in results])
    row(
        "intent write txns / state chg",
        [
            fmt(ratio(r["intent_txns"] + r["claim_txns"], r["state_changes"]), ".3f")
            for r in results
        ],
        f"<= {GOALS['writes']}",
    )
    row(
        "  excl. sweeper claim txns",
        [fmt(ratio(r["intent_txns"], r["state_changes"]), ".3f") for r in results],
        f"<= {GOALS['writes']}",
    )
    row(
        "  txns intent/claim, state chg",
        [f"{r['intent_txns']}/{r['claim_txns']}, {r['state_changes']}" for r in results],
    )
    row(
        "GatewayCall inserts / intent",
        [fmt(ratio(r["gw_inserts"], r["rows"]), ".2f") for r in results],
    )
    row(
        "other write stmts / intent",
        [fmt(ratio(sum(r["other"].values()), r["rows"]), ".2f") for r in results],
    )
    for g, name, goal in (("u", "unwatched", "lag_unwatched"), ("w", "watched", "lag_watched")):
        row(
            f"lag {name} p50 / p95 s",
            [f"{fmt(pct(r['lags'][g], 0.5))} / {fmt(pct(r['lags'][g], 0.95))}" for r in results],
            f"p95 <= {GOALS[goal]:.0f}",
        )
    row(
        "provider creates / intent",
        [fmt(ratio(r["creates_total"], r["n"]), ".3f") for r in results],
        "== 1.000",
    )
    row(
        "  intents with creates != 1",
        [str(sum(1 for c in r["creates"] if c != 1)) for r in results],
    )
    row("in-doubt intents", [str(len(r["searches"])) for r in results])
    row(
        "  searches / in-doubt intent",
        [
            fmt(ratio(sum(a for a, _ in r["searches"].values()), len(r["searches"])), ".1f")
            for r in results
        ],
    )
    row(
        "  max searches in first 2 min",
        [str(max((f for _, f in r["searches"].values()), default=0)) for r in results],
        f"<= {GOALS['searches_2min']}",
    )
    row("CPU s bench process", [fmt(r["cpu"], ".1f") for r in results])
    row("  CPU ms / intent", [fmt(1000 * ratio(r["cpu"], r["n"]), ".1f") for r in results])
    row("  bench's PG sampler CPU s", [fmt(r["sampler_cpu"], ".2f") for r in results])
    row("CPU s simulator process", [fmt(r["sim_cpu"], ".1f") for r in results])

    def sweep_cpu(r):  # sweeper + watchers: this process and PostgreSQL, without the creator
        # and without the bench's PostgreSQL sampler thread
        portal = r["cpu"] - r["creator_cpu"]["process"] - r["sampler_cpu"]
        db = None if r["pg_cpu"] is None else r["pg_cpu"] - r["creator_cpu"]["db"]
        return portal, db

    def floor_cpu(r):
        return r["reads_total"] * r["floor"]["read"] + r["sweeper_changes"] * r["floor"]["write"]

    row(
        "sweeper CPU ms / payment",
        [
            fmt(1000 * ratio(sweep_cpu(r)[0] + (sweep_cpu(r)[1] or 0), r["n"]), ".1f")
            for r in results
        ],
    )
    row(
        "  portal / PostgreSQL ms",
        [
            f"{fmt(1000 * ratio(sweep_cpu(r)[0], r['n']), '.1f')} / "
            f"{fmt(None if sweep_cpu(r)[1] is None else 1000 * sweep_cpu(r)[1] / r['n'], '.1f')}"
            for r in results
        ],
    )
    row(
        "  floor ms / payment",
        [fmt(1000 * ratio(floor_cpu(r), r["n"]), ".1f") for r in results],
    )
    row(
        "  floor: read / write ms",
        [f"{1000 * r['floor']['read']:.2f} / {1000 * r['floor']['write']:.2f}" for r in results],
    )
    row(
        "sweeper CPU / floor",
        [
            fmt(ratio(sweep_cpu(r)[0] + (sweep_cpu(r)[1] or 0), floor_cpu(r)), ".2f")
            for r in results
        ],
        f"<= {GOALS['cpu_floor']}",
    )
    row(
        "provider reads / *_get rows",
        [f"{r['reads_total']} / {r['gets_total']}" for r in results],
    )
    row(
        "  idle reads counted",
        ["-" if r["idle_counted"] is None else str(r["idle_counted"]) for r in results],
    )
    row(
        "  PostgreSQL server, all dbs, s",
        [fmt(r.get("pg_server_cpu"), ".1f") for r in results],
    )
    row("DB connections opened", [str(r["conns_opened"]) for r in results])
    row(
        "  peak PostgreSQL conns",
        [str(r["conns_peak"]) if r["pg_cpu"] is not None else "-" for r in results],
    )
    row("sweeper polls", [str(r["polls"]) for r in results])

    w0 = max(len(name) for name, _, _ in lines)
    widths = [max(len(c), *(len(v[i]) for _, v, _ in lines)) for i, c in enumerate(cols)]
    header = " | ".join(
        [" " * w0, *(c.rjust(w) for c, w in zip(cols, widths, strict=True)), "goal"]
    )
    print()
    print(header)
    print("-" * len(header))
    for name, values, goal in lines:
        cells = [v.rjust(w) for v, w in zip(values, widths, strict=True)]
        print(" | ".join([name.ljust(w0), *cells, goal]))
    print()
    for r in results:
        other = ", ".join(f"{t}={c}" for t, c in sorted(r["other"].items(), key=lambda x: -x[1]))
        print(f"{r['label']}: states {r['states']}; other writes: {other or 'none'}")
        for err in r["errors"][:5]:
            print(f"  error: {err}")
        if len(r["errors"]) > 5:
            print(f"  ... {len(r['errors']) - 5} more errors")
    ok = all(r["creates_total"] == r["n"] and all(c == 1 for c in r["creates"]) for r in results)
    print("provider creates per intent: " + ("OK (exactly 1.000)" if ok else "FAILED (!= 1.000)"))
    return ok


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="50,200,1000")
    parser.add_argument("--quick", action="store_true", help="N=50 only, fault run at N=50")
    parser.add_argument("--watched", type=float, default=0.10, help="fraction watched")
    parser.add_argument("--drop-rate", type=float, default=0.05)
    parser.add_argument(
        "--fault-size",
        type=int,
        default=None,
        help="N of the lost-answer run (default: min(200, largest size))",
    )
    parser.add_argument("--no-fault-run", action="store_true")
    parser.add_argument("--cap", type=float, default=240, help="seconds cap per run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [50] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    fault_size = args.fault_size or min(200, max(sizes))

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="ecr-bench-"))
    rng = random.Random(args.seed)
    try:
        sim_env = prepare_environment(tmp)
        base_url = start_simulator(sim_env, tmp)
        print(f"simulator: {base_url} (pid {CLEANUP.sim_proc.pid}, db {sim_env['SQLITE_PATH']})")

        import django  # noqa: PLC0415

        django.setup()
        from django.conf import settings  # noqa: PLC0415
        from django.core.management import call_command  # noqa: PLC0415

        install_write_counter()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("createcachetable", verbosity=0)

        from stores.models import Terminal  # noqa: PLC0415
        from tests import factories  # noqa: PLC0415

        merchant = factories.make_merchant(legal_name="Comercio Bench S.A.")
        store = factories.make_store(
            merchant, name="Sucursal Bench", code="bench", pending_timeout_seconds=900
        )
        credential = factories.make_credential(merchants=[merchant], base_url=base_url)
        n_max = max([*sizes, fault_size])
        Terminal.objects.bulk_create(
            [
                Terminal(store=store, terminal_id=f"{60_000_000 + i:08d}", label=f"Caja {i}")
                for i in range(n_max)
            ]
        )
        terms = list(Terminal.objects.filter(store=store).order_by("terminal_id"))
        sim = Sim(base_url)
        sim.call("POST", "reset", all=True)
        sim.call(
            "POST",
            "credentials",
            public_key=credential.public_key,
            secret_key=credential.get_secret(),
            cuit=merchant.cuit,
            environment=credential.environment,
            merchant_name=merchant.legal_name,
        )
        plans = [(rng.randint(1000, 8000), rng.randint(1000, 6000)) for _ in terms]
        t0 = time.monotonic()

        def register(i):
            tid = terms[i].terminal_id
            sim.call("POST", "terminals", terminal_id=tid, cuit=merchant.cuit)
            sim.call(
                "PUT",
                f"terminals/{tid}/autopilot",
                enabled=True,
                pick_delay_ms=plans[i][0],
                processing_ms=plans[i][1],
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(register, range(len(terms))))
        print(
            f"{len(terms)} terminals registered on autopilot in {time.monotonic() - t0:.1f} s "
            f"(pick 1-8 s, processing 1-6 s, seed {args.seed}); "
            f"poll concurrency {settings.ECR_POLL_CONCURRENCY}, "
            f"watch interval {settings.ECR_WATCH_INTERVAL_MS} ms, "
            f"db {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[1]}"
        )
        ctx = {"sim": sim, "store": store, "credential": credential, "terms": terms}
        plan = [(f"r{i + 1}", n, 0.0) for i, n in enumerate(sizes)]
        if not args.no_fault_run:
            plan.append((f"r{len(plan) + 1}", fault_size, args.drop_rate))
        results = []
        for label, n, drop in plan:
            print(f"run {label}: N={n} drop_rate={drop} ...", flush=True)
            result = run_once(
                label=label,
                n=n,
                ctx=ctx,
                drop_rate=drop,
                watched_fraction=args.watched,
                cap=args.cap,
                rng=rng,
            )
            print(
                f"  done in {result['wall']:.1f} s, {result['final']}/{result['rows']} final"
                + (" (TIME CAP)" if result["timed_out"] else ""),
                flush=True,
            )
            results.append(result)
        ok = report(results)
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        CLEANUP()


if __name__ == "__main__":
    sys.exit(main())
