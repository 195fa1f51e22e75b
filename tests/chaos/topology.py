"""The production-like topology of README "Production-like on one machine", started by a test:
a PostgreSQL database of its own, a Redis database index of its own (cleaned key by key, never
flushed), `DEBUG=0`, the simulator as its own process, gunicorn and two `qcluster` workers, each
in its own process group on free loopback ports.

`Topology` is a context manager: whatever happens inside, every process group it started is
killed, its database dropped, its Redis keys deleted and its temporary directory removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# Every server is started through it: its group dies with the test run, even a killed one.
REAPER = Path(__file__).with_name("reaper.py")
POSTGRES_SERVER = os.environ.get("CI_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379")
# Redis database indexes the test may take: the first empty one is claimed with a marker key,
# so two runs on one host never share one (0 is the README's, 15 the suite's).
REDIS_DB_CANDIDATES = range(14, 0, -1)
REDIS_CLAIM_KEY = "ecr-chaos-claim"
# django-q2's keys for the cluster named "ecrportal" (settings.Q_CLUSTER): its queue list and
# its stats; they carry no cache prefix, hence a database index of the test's own.
Q_CLUSTER_KEYS = ("ecrportal", "django_q:ecrportal:*")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        psycopg.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3).close()
    except Exception as exc:  # any failure means: skip
        return f"PostgreSQL not reachable at {POSTGRES_SERVER} ({exc.__class__.__name__})"
    return None


def redis_reachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(f"{REDIS_SERVER}/0", socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_SERVER} ({exc.__class__.__name__})"
    return None


@dataclass
class Topology:
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ecr-chaos-")))
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    pos_keys: dict[str, str] = field(default_factory=dict)
    redis_db: int | None = None
    database_created: bool = False

    def __post_init__(self) -> None:
        self.database = f"ecr_chaos_{self.run_id}"
        self.simulator_port = free_port()
        self.portal_port = free_port()
        self.simulator_url = f"http://127.0.0.1:{self.simulator_port}/simulator"
        self.portal_url = f"http://127.0.0.1:{self.portal_port}"
        self.cache_prefix = f"chaos-{self.run_id}"

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> Topology:
        try:
            self._claim_redis_db()
            self._create_database()
            self.env = self._environment()
            self.manage("migrate", "--noinput", "-v0")
            seeded = self.manage("seed_demo", "--force")
            self.pos_keys = dict(re.findall(r"^\s+(\w+): (\S{20,})$", seeded, re.M))
            self.manage("ensure_schedules", "--start-sweeper")
            self.start("simulator", [PYTHON, "manage.py", "runsimulator"] + self._sim_args())
            self.wait_http(f"{self.simulator_url}/control/faults", "simulator")
            self.start("gunicorn", [GUNICORN, "-c", "gunicorn.conf.py", "ecrportal.wsgi"])
            self.wait_http(f"{self.portal_url}/api/v1/ping", "gunicorn")
            self.start("qcluster-1", self.qcluster_command())
            self.start("qcluster-2", self.qcluster_command())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        for name in list(self.processes):
            self.kill(name)
        if self.database_created:
            self._drop_database()
        if self.redis_db is not None:
            self._clean_redis()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def qcluster_command() -> list[str]:
        return [PYTHON, "manage.py", "qcluster"]

    def _sim_args(self) -> list[str]:
        return ["--addr", "127.0.0.1", "--port", str(self.simulator_port)]

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECR_", "PYTEST"))}
        env.pop("SQLITE_PATH", None)
        env.update(
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="0",
            SECURE_HSTS_SECONDS="0",
            SECRET_KEY=f"chaos-test-secret-{secrets.token_hex(24)}",
            ECR_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
            DATABASE_URL=f"{POSTGRES_SERVER}/{self.database}",
            REDIS_URL=f"{REDIS_SERVER}/{self.redis_db}",
            ECR_CACHE_KEY_PREFIX=self.cache_prefix,
            ECR_SIMULATOR="0",
            ECR_SIMULATOR_BASE_URL=self.simulator_url,
            # With DEBUG=0 a credential may point at loopback only when its host is listed.
            ECR_PROVIDER_HOSTS="127.0.0.1",
            # Lost answers (faults) put creates in doubt after this, not after 15 s.
            ECR_GATEWAY_READ_TIMEOUT_MS="3000",
            GUNICORN_BIND=f"127.0.0.1:{self.portal_port}",
            GUNICORN_CONTROL_SOCKET=str(self.tmp / "gunicorn.ctl"),
            GUNICORN_WORKERS="2",
            Q_WORKERS="2",
            ECR_METRICS_TOKEN=secrets.token_hex(16),
        )
        return env

    # --- processes ----------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it open)
        self.processes[name] = subprocess.Popen(
            [PYTHON, str(REAPER), *command],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed whole, children included
        )
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL to the process group: nothing gets to clean up, like a host losing power."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def wait_http(self, url: str, name: str, *, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                httpx.get(url, timeout=5)
                return
            except httpx.TransportError:
                process = self.processes[name]
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n{self.log_tail(name)}") from None
                time.sleep(0.2)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # --- PostgreSQL ---------------------------------------------------------------------------
    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5)

    def _create_database(self) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        self.database_created = True

    def _drop_database(self) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database)
                )
            )

    def terminate_backends(self) -> int:
        """Ends every connection the portal holds to its database (a failover, a restart)."""
        with self._admin() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,),
            ).fetchall()
        return len(rows)

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(f"{POSTGRES_SERVER}/{self.database}", connect_timeout=5) as conn:
            return conn.execute(statement, params).fetchall()

    # --- Redis --------------------------------------------------------------------------------
    def _redis(self, db: int):
        import redis

        return redis.Redis.from_url(f"{REDIS_SERVER}/{db}", socket_connect_timeout=5)

    def _claim_redis_db(self) -> None:
        for db in REDIS_DB_CANDIDATES:
            client = self._redis(db)
            if client.dbsize() == 0 and client.set(REDIS_CLAIM_KEY, self.run_id, nx=True, ex=3600):
                self.redis_db = db
                return
        raise RuntimeError("no empty Redis database index to run in")

    def _clean_redis(self) -> None:
        """Deletes this run's keys only: its cache prefix, the cluster's and its claim."""
        client = self._redis(self.redis_db)
        for pattern in (f"{self.cache_prefix}:*", *Q_CLUSTER_KEYS):
            for key in client.scan_iter(match=pattern, count=500):
                client.delete(key)
        if client.get(REDIS_CLAIM_KEY) == self.run_id.encode():
            client.delete(REDIS_CLAIM_KEY)
