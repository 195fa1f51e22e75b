"""examples/pos_client.py asks for a refund above the store's threshold: it says the refund waits
for another person's approval, keeps waiting, and follows it to the terminal once approved."""

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.transactions.support import approved_payment, set_money_controls
from transactions.models import Intent
from transactions.services import approval_approve
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pos_client.py"


def test_example_client_waits_for_the_approval_then_the_terminal(
    live_server, sim, key_a, store_a, terminal_a, owner
):
    payment = approved_payment(sim, store_a, terminal_a)
    set_money_controls(store_a, refund_approval_threshold=Decimal("100.00"))
    process = subprocess.Popen(  # noqa: S603 -- our own script, fixed arguments
        [
            sys.executable,
            "-u",
            str(EXAMPLE),
            "--base-url",
            live_server.url,
            "--key",
            key_a[1],
            "--terminal",
            str(terminal_a.public_id),
            "--refund",
            str(payment.public_id),
            "--amount",
            "300.00",
            "--max-wait",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert "espera la aprobación de otra persona" in first, first + process.stderr.read()
        refund = Intent.objects.get(kind=Kind.REFUND)
        assert refund.state == State.APPROVAL_PENDING
        sim.autopilot(terminal_a.terminal_id, enabled=True, pick_delay_ms=200, processing_ms=300)
        approval_approve(intent=refund, user=owner)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, first + out + err
    assert "Aprobada por otra persona" in out
    assert "Estado: approved" in out
