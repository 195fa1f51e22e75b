"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py ecrportal.wsgi`.

Threads, not only processes: a POS long poll (`GET /api/v1/intents/{id}?wait=30`) holds a thread
for up to 30 s, and the simulator, when mounted on the same server in development, is called by
the portal itself. Concurrent requests per host = workers x threads, and so is the most
PostgreSQL connections the web server holds (one per thread, kept between requests and through a
long poll). The defaults (2 x 10 = 20) leave room for three hosts and their qclusters in
PostgreSQL's default 100 connections; for more, see README "Scaling out" (pgbouncer).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "10"))
worker_class = "gthread"
# Longer than the longest long poll (30 s) plus a provider call.
timeout = 75
graceful_timeout = 30
accesslog = "-"
