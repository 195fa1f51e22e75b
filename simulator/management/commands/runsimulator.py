"""Serve only the simulator (at /simulator/) on its own threaded HTTP server."""

import contextlib

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import run
from django.urls import clear_url_caches, set_urlconf


class Command(BaseCommand):
    help = "Sirve solo el simulador Prisma ECR (base URL http://<addr>:<port>/simulator)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--addr", default="127.0.0.1")

    def handle(self, *args, port, addr, **options):
        # Only the simulator's URLs: the portal's pages are not reachable on this port.
        settings.ROOT_URLCONF = "simulator.standalone_urls"
        clear_url_caches()
        set_urlconf(None)
        self.stdout.write(f"Simulador en http://{addr}:{port}/simulator (Ctrl-C para salir)")
        # Threaded: the portal runs several pollers against it at once.
        with contextlib.suppress(KeyboardInterrupt):
            run(addr, port, WSGIHandler(), ipv6=":" in addr, threading=True)
