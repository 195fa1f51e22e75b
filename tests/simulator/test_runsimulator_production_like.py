"""`manage.py runsimulator` under DEBUG=0 (issue 11, item 24): plain HTTP on loopback, not a 301
to https nor a 400 for a Host outside ALLOWED_HOSTS; a non-loopback address is refused."""

import os
import socket
import subprocess
import sys
import time
from io import StringIO

import httpx
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _production_env(database) -> dict:
    return {
        **os.environ,
        "SQLITE_PATH": str(database),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DEBUG": "0",
        "ECR_SIMULATOR": "0",
        "SECRET_KEY": "a-production-like-secret-key-for-this-test-only-0123456789",
        "ECR_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "ecr.example.com",
    }


def test_serves_plain_http_on_loopback_with_debug_off(tmp_path):
    env = _production_env(tmp_path / "simulator.sqlite3")
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, timeout=120)
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runsimulator", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/simulator/control/faults")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200, response.text
        assert "error_rate" in response.json()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("addr", ["0.0.0.0", "192.0.2.10", "::"])
def test_refuses_a_non_loopback_address_with_debug_off(settings, addr):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="loopback"):
        call_command("runsimulator", "--addr", addr, stdout=StringIO())
