"""The `X-ECR-Signature` recipe: an HMAC-SHA256 of the timestamp and the exact body bytes.

Verifying a webhook (the recipe in the OpenAPI description and docs/api.md):

    header = request.headers["X-ECR-Signature"]          # "t=1732712345,v1=5f2b...e1"
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = f"{parts['t']}.".encode() + raw_body          # the raw bytes, before any JSON parsing
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300

Deliveries are at least once: receivers deduplicate by `X-ECR-Delivery` (or the body's `id`).
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-ECR-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300


def webhook_sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `X-ECR-Signature` value for these exact body bytes: `t=<unix ts>,v1=<hex hmac>`."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def webhook_verify(
    *, secret: str, body: bytes, header: str, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """The receiver's side of the recipe above (used by the tests and the example client)."""
    try:
        parts = dict(item.strip().split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
