"""The provider's connections go only where the address policy allows, to the address it checked.

A credential's base URL is checked when it is saved (`stores.validators.provider_url_problem`),
but a name can resolve elsewhere later (DNS rebinding, a `*.nip.io` name of 127.0.0.1, a
changed record). So every request the gateway sends resolves the host here, refuses it when any
address is not public (loopback only in development, tests or for a host the operator listed),
refuses hosts that are not the provider's in production, and then connects to that very address
with the Host header and the TLS server name (certificate check) of the URL's host, as webhook
deliveries do (`outbound.py`): a second lookup inside the HTTP library cannot swap in another.

A checked address is reused for `ttl_s`, so a poll every second costs no DNS lookup each time.
"""

from __future__ import annotations

import threading
import time

import httpx

from stores.address_policy import refused_address, resolve_addresses
from stores.validators import provider_host_problem, provider_loopback_allowed
from transactions.gateway.errors import GatewayError

CHECKED_FOR_S = 30.0


class PinnedTransport(httpx.BaseTransport):
    """Wraps a real transport: checks the request's host and rewrites the URL to the checked
    address. Refusals raise `GatewayError` (not retryable: nothing was sent, and sending again
    would be refused again); a name that does not resolve is a connection failure
    (`httpx.ConnectError`: nothing was sent, a later try may work)."""

    def __init__(self, inner: httpx.BaseTransport, *, ttl_s: float = CHECKED_FOR_S) -> None:
        self._inner = inner
        self._ttl_s = ttl_s
        self._checked: dict[str, tuple[str, float]] = {}
        self._guard = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = self.address_for(host, request=request)
        if address != host:
            # The Host header was set from the URL when the request was built; it stays.
            request.url = request.url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": host}
        return self._inner.handle_request(request)

    def address_for(self, host: str, *, request: httpx.Request | None = None) -> str:
        """The checked address to connect to for `host` (raises as the class says)."""
        now = time.monotonic()
        with self._guard:
            cached = self._checked.get(host)
        if cached is not None and cached[1] > now:
            return cached[0]
        problem = provider_host_problem(host)
        if problem:
            raise GatewayError(problem)
        try:
            addresses = resolve_addresses(host)
        except OSError as exc:
            raise httpx.ConnectError(
                f"no se pudo resolver {host}: {exc.strerror or exc}", request=request
            ) from exc
        refused = refused_address(
            addresses, allow_loopback=provider_loopback_allowed(host, connecting=True)
        )
        if refused:
            raise GatewayError(
                f"La URL de la credencial apunta a una dirección no permitida ({refused}); no "
                "se envió nada."
            )
        with self._guard:
            self._checked[host] = (addresses[0], now + self._ttl_s)
        return addresses[0]

    def close(self) -> None:
        self._inner.close()
