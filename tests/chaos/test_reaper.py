"""The chaos topology's servers die with the test run that started them, even a killed one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Process groups are read from /proc (Linux, as on CI); elsewhere the test has nothing to read.
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc (Linux)")

REAPER = Path(__file__).with_name("reaper.py")

# A stand-in for the test run: starts a long "server" through the reaper, says the server's pid,
# and waits to be killed.
RUN = f"""
import subprocess, sys, time
server = subprocess.Popen(
    [sys.executable, {str(REAPER)!r}, sys.executable, "-c", "import time; time.sleep(120)"],
    start_new_session=True,
)
print(server.pid, flush=True)
time.sleep(120)
"""


def _group(pgid: int) -> list[int]:
    """The live processes (zombies excluded) of process group `pgid`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().split(")")[-1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


def test_a_killed_run_takes_its_servers_with_it():
    run = subprocess.Popen([sys.executable, "-c", RUN], stdout=subprocess.PIPE, text=True)
    group = None
    try:
        group = int(run.stdout.readline())
        deadline = time.monotonic() + 20
        while len(_group(group)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_group(group)) == 2, "the reaper and its server are running"
        run.send_signal(signal.SIGKILL)  # the test run dies without cleaning up
        run.wait(10)
        deadline = time.monotonic() + 10
        while _group(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group(group) == [], "the server's whole group is gone"
    finally:
        if run.poll() is None:
            run.kill()
        if group is not None:
            for pid in _group(group):  # never left behind, even by a failed test
                os.kill(pid, signal.SIGKILL)


def test_the_reaper_answers_with_its_commands_exit_status():
    done = subprocess.run(
        [sys.executable, str(REAPER), sys.executable, "-c", "raise SystemExit(3)"], timeout=30
    )
    assert done.returncode == 3
