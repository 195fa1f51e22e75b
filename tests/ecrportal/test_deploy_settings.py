"""Production settings: `check --deploy` is clean, and unsafe combinations refuse to start."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ECR_"))}
    base.update(
        DEBUG="0",
        SECRET_KEY="x" * 60 + "-production-like-secret-key-for-the-check",
        ALLOWED_HOSTS="ecr.example.com",
        ECR_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        SQLITE_PATH="/tmp/ecr-deploy-check.sqlite3",
        DATABASE_URL="",
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_prints_no_warnings_with_production_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_simulator_is_refused_in_production():
    result = _manage("check", ECR_SIMULATOR="1")
    assert result.returncode != 0
    assert "ECR_SIMULATOR" in result.stderr


def test_production_without_encryption_keys_refuses_to_start():
    result = _manage("check", ECR_ENCRYPTION_KEYS="")
    assert result.returncode != 0
    assert "ECR_ENCRYPTION_KEYS" in result.stderr
