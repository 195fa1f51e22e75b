"""The example POS client explains an unreachable portal instead of printing a traceback."""

import socket
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1] / "examples" / "pos_client.py"


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_portal_is_a_spanish_message_and_exit_2():
    url = f"http://127.0.0.1:{_closed_port()}"
    done = subprocess.run(  # noqa: S603 -- our own script, fixed arguments
        [sys.executable, str(CLIENT), "--key", "x", "--list", "--base-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "No se pudo conectar con el portal" in done.stderr
    assert "Traceback" not in done.stderr
