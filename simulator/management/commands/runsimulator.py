"""Serve only the simulator (at /simulator/) on its own threaded HTTP server.

Plain HTTP on loopback, whatever DEBUG says: with DEBUG=0 (a production-like run, README
"Production-like on one machine") the portal's settings would redirect every request to https
(SECURE_SSL_REDIRECT, answered 301) and refuse the Host `127.0.0.1:<port>` unless listed in
ALLOWED_HOSTS. The simulator is a test double without authentication on its control endpoints,
so with DEBUG=0 it listens on loopback only.
"""

import contextlib
import ipaddress

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import run
from django.urls import clear_url_caches, set_urlconf

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def _is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        return False


def standalone_application() -> WSGIHandler:
    """The simulator's WSGI application: only its URLs, plain HTTP, loopback hosts allowed."""
    # Only the simulator's URLs: the portal's pages are not reachable on this port.
    settings.ROOT_URLCONF = "simulator.standalone_urls"
    clear_url_caches()
    set_urlconf(None)
    # Read by SecurityMiddleware when the handler loads it, below.
    settings.SECURE_SSL_REDIRECT = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, *LOOPBACK_HOSTS]
    return WSGIHandler()


class Command(BaseCommand):
    help = "Sirve solo el simulador Prisma ECR (base URL http://<addr>:<port>/simulator)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--addr", default="127.0.0.1")

    def handle(self, *args, port, addr, **options):
        if not settings.DEBUG and not _is_loopback(addr):
            raise CommandError(
                "Con DEBUG=0 el simulador escucha solo en loopback (127.0.0.1 o ::1): es un "
                "doble de prueba sin autenticación en sus endpoints de control."
            )
        application = standalone_application()
        self.stdout.write(f"Simulador en http://{addr}:{port}/simulator (Ctrl-C para salir)")
        # Threaded: the portal runs several pollers against it at once.
        with contextlib.suppress(KeyboardInterrupt):
            run(addr.strip("[]"), port, application, ipv6=":" in addr, threading=True)
