"""Issue 11 item 6 (verified): production keeps database connections for a while and checks
each one before reuse, so after a database cut a stale connection is replaced instead of
answering a 500. (Tests turn both off: see `ecrportal/settings.py`.)"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_production_checks_a_kept_connection_before_reusing_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ECR_"))}
    env["DATABASE_URL"] = "postgres://ecr@db.invalid:5432/ecrportal"  # never connected to
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["60", "True"]
