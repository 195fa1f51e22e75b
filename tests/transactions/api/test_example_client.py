"""examples/pos_client.py charges a payment end to end against the live API and simulator."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pos_client.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=60
    )


def test_example_client_charges_waits_and_prints_the_ticket(live_server, sim, key_a, terminal_a):
    sim.autopilot(terminal_a.terminal_id, enabled=True, pick_delay_ms=200, processing_ms=300)
    result = _run(
        "--base-url",
        live_server.url,
        "--key",
        key_a[1],
        "--terminal",
        str(terminal_a.public_id),
        "--amount",
        "1500.00",
        "--reference",
        "EJ-1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Estado: approved" in result.stdout
    assert "Aprobado:" in result.stdout


def test_example_client_lists_terminals(live_server, sim, key_a, terminal_a):
    result = _run("--base-url", live_server.url, "--key", key_a[1], "--list")
    assert result.returncode == 0, result.stderr
    assert terminal_a.terminal_id in result.stdout


def test_example_client_reports_problems(live_server, sim, key_a, terminal_a):
    result = _run(
        "--base-url",
        live_server.url,
        "--key",
        key_a[1],
        "--terminal",
        str(terminal_a.public_id),
        "--amount",
        "-3",
    )
    assert result.returncode == 1
    assert "amount_invalid" in result.stderr
