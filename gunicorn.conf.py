"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py ecrportal.wsgi`.

Threads, not only processes: a POS long poll (`GET /api/v1/intents/{id}?wait=30`) holds a thread
for up to 30 s, and the simulator, when mounted on the same server in development, is called by
the portal itself. Concurrent requests per host = workers x threads, and so is the most
PostgreSQL connections the web server holds (one per thread, kept between requests and through a
long poll). The defaults (2 x 10 = 20) leave room for three hosts and their qclusters in
PostgreSQL's default 100 connections; for more, see README "Scaling out" (pgbouncer).
"""

import hashlib
import os
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "10"))
worker_class = "gthread"
# Longer than the longest long poll (30 s) plus a provider call.
timeout = 75
graceful_timeout = 30
accesslog = "-"

# gunicorn >= 25.1 opens a control socket (for `gunicornc`) at one path per user by default,
# $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl: every gunicorn of that user on the
# host would share it, so one server's control commands could reach another's. This server's
# own path is derived from this checkout and the bind address, in the runtime directory (a unix
# socket path is limited to about 100 characters, so not inside a deep checkout).
_runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
_this_server = f"{Path(__file__).resolve().parent}|{bind}".encode()
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or os.path.join(
    _runtime_dir, f"ecrportal-gunicorn-{hashlib.sha256(_this_server).hexdigest()[:12]}.ctl"
)


def post_worker_init(worker):
    """The application is loaded in this worker: freeze what it loaded out of the garbage
    collector's full scans (`ecrportal.process.settle_after_load`)."""
    from ecrportal.process import settle_after_load

    settle_after_load()
