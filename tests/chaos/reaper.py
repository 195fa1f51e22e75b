"""Runs a command as the leader of its own process group and kills that whole group when the
process that started it dies.

The chaos topology starts gunicorn, `qcluster` and the simulator each in a process group of its
own and kills the groups when the test ends. A test run that is itself killed (SIGKILL, a CI
timeout, a session that ends) never gets there: without this, its servers and workers would go
on running on the machine, polling their database and taking CPU from whatever runs next.

    python tests/chaos/reaper.py <command> [args...]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

# How often the parent is checked: an orphaned group lives at most this long.
CHECK_EVERY_S = 0.5


def main(argv: list[str]) -> int:
    parent = os.getppid()
    child = subprocess.Popen(argv)  # same process group as this reaper: the group is killed whole
    while child.poll() is None:
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)  # the test that started us is gone
        time.sleep(CHECK_EVERY_S)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
