"""Outbound HTTP that is not the provider: webhook deliveries to POS endpoints.

The gateway package is the project's one HTTP choke point (STYLE.md: it alone imports httpx), so
every request the portal makes has a timeout nobody can forget and one error shape. Deliveries
follow no redirects (a redirect could lead to an address nobody checked).
"""

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "ECR-Portal-Webhooks/1.0"

HttpClient = httpx.Client


def new_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": USER_AGENT})


def post(
    http: httpx.Client, url: str, *, body: bytes, headers: dict, extensions: dict
) -> tuple[int | None, str]:
    """POSTs and returns (HTTP status or None, transport error text or "")."""
    try:
        response = http.post(url, content=body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:300]
    return response.status_code, ""
