"""Helpers of the POS API tests: the API's root, JSON posts with an Idempotency-Key (through the
Django test client or httpx against the live server), API clients and a tiny webhook receiver."""

import http.server
import json
import threading
import uuid

import httpx
from rest_framework.test import APIClient

API = "/api/v1"
# The provider's payment create path.
PAY = "/v1/paystore_terminals/terminal_payments/payments"


def api_client(raw_key: str | None) -> APIClient:
    """A DRF test client sending `raw_key` as its POS key (anonymous without one)."""
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def post(client, path: str, body: dict | None = None, *, key: str | None = None, **extra):
    """POST JSON with an Idempotency-Key (a fresh one unless given)."""
    return client.post(
        f"{API}{path}",
        body or {},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
        **extra,
    )


def live_post(client: httpx.Client, path: str, body: dict, *, key: str | None = None):
    """POST JSON to the live server's API with an Idempotency-Key (a fresh one unless given)."""
    return client.post(path, json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


class Receiver:
    """A tiny webhook receiver on 127.0.0.1: records each request, answers from `statuses`
    (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ecr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def prisma_answer(status="PAYMENT_REQUEST"):
    """A FakePrisma handler answering a payment create with a new provider id and `status`."""

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "payment_request_data": {"ecr_transaction_id": body.get("ecr_transaction_id", "")},
                "payment_data": {"payment_id": str(uuid.uuid4()), "payment_status": status},
            },
        )

    return respond
