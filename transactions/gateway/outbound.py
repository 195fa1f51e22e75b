"""Outbound HTTP that is not the provider: webhook deliveries to POS endpoints.

The gateway package is the project's one HTTP choke point (STYLE.md: it alone imports httpx), so
every request the portal makes has a timeout nobody can forget and one error shape. This module
owns the whole exchange of a webhook: callers hand it the URL, the address already checked by
`stores.address_policy`, the body and headers, and get back a `WebhookAnswer`; no httpx type
leaves it. Deliveries follow no redirects (a redirect could lead to an address nobody checked).
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "ECR-Portal-Webhooks/1.0"

# Set only by `webhook_transport_for_tests`: the transport every new webhook client uses.
_test_transport: httpx.BaseTransport | None = None


@dataclass(frozen=True)
class WebhookAnswer:
    """What one POST to a webhook got: the HTTP status (None when no answer came) and the
    transport error text ("" when the receiver answered, whatever the status)."""

    status_code: int | None
    error: str = ""


def post_webhook(url: str, *, address: str, body: bytes, headers: dict) -> WebhookAnswer:
    """POSTs `body` to `url`, connecting to `address` (the one the caller checked).

    The request goes to that very address with the Host header and the TLS server name
    (certificate check) of the URL's host, so a second DNS lookup cannot swap in another
    address (DNS rebinding).
    """
    pinned_url, host_header, extensions = _pinned(url, address)
    with _new_client() as http:
        try:
            response = http.post(
                pinned_url,
                content=body,
                headers={**headers, **host_header},
                extensions=extensions,
            )
        except httpx.HTTPError as exc:
            return WebhookAnswer(None, f"{exc.__class__.__name__}: {exc}"[:300])
    return WebhookAnswer(response.status_code)


@contextlib.contextmanager
def webhook_transport_for_tests(transport: httpx.BaseTransport) -> Iterator[None]:
    """Makes every webhook POST inside the block go through `transport` (an
    `httpx.MockTransport` in tests), with the real client around it."""
    global _test_transport
    previous, _test_transport = _test_transport, transport
    try:
        yield
    finally:
        _test_transport = previous


def _new_client() -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=_test_transport,
    )


def _pinned(url: str, address: str) -> tuple[str, dict, dict]:
    """The URL rewritten to the checked address, with the Host header and the TLS server name
    (certificate check) of the original host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    pinned_url = parts._replace(netloc=netloc).geturl()
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return pinned_url, {"Host": host_header}, {"sni_hostname": host}
