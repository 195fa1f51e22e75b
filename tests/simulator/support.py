"""Helpers of the simulator's tests: its URLs, a credential and two terminals, request bodies
shaped like the contract's examples, and small clients of its API and control endpoints."""

import base64
import json
from datetime import datetime
from urllib.parse import urlencode

from simulator.receipts import ARGENTINA

BASE = "/simulator"
PAYMENTS = f"{BASE}/v1/paystore_terminals/terminal_payments/payments"
REVERSALS = f"{BASE}/v1/paystore_terminals/terminal_reversals/reversals"
REFUNDS = f"{BASE}/v1/paystore_terminals/terminal_refunds/refunds"
SETTLEMENTS = f"{BASE}/v1/paystore_terminals/terminal_settlements/settlements"
TOKEN = f"{BASE}/v1/oauth/accesstoken"
CONTROL = f"{BASE}/control"

CUIT = "30-71234567-1"
PUBLIC_KEY = "pk_3f2a9c"
SECRET_KEY = "sk_secret_1"
T1 = "38011127"
T2 = "38011128"
START = datetime(2026, 11, 27, 15, 4, 5, 123000, tzinfo=ARGENTINA)


def payment_body(**overrides) -> dict:
    """The contract example's create body; overrides replace fields of payment_request_data."""
    data = {
        "subnet_acquirer_id": "9",
        "payment_amount": "152050",
        "terminal_menu_text": "Pedido 4411 $1.520,50",
        "ecr_transaction_id": "POS7-000004411",
        "installments_number": 3,
        "ecr_provider": "ECR Portal",
        "ecr_name": "ECR Portal",
        "ecr_version": "1.0.0",
        "change_amount": "0",
        "bank_account_type": None,
        "payment_plan_id": None,
        "print_method": "MOBITEF_NON_FISCAL",
        "print_copies": "BOTH",
        "terminals_list": [{"terminal_id": T1}, {"terminal_id": T2}],
        "card_brand_product": None,
        "terminal_operation_method": "CARD",
        "qr_benefit_code": None,
        "trx_receipt_notes": "Gracias por su compra",
        "card_holder_id": None,
    }
    data.update(overrides)
    return {"payment_request_data": data}


def refund_body(**overrides) -> dict:
    body = {
        "subnet_acquirer_id": "9",
        "ecr_transaction_id": "POS7-000004411-D1",
        "terminal_menu_text": "Devolución pedido 4411",
        "print_copies": "BOTH",
        "ecr_provider": "ECR Portal",
        "ecr_name": "ECR Portal",
        "ecr_version": "1.0.0",
        "refund_amount": "50000",
        "card_brand_product": None,
        "terminals_list": [{"terminal_id": T2}],
    }
    body.update(overrides)
    return body


def reversal_body(payment_id: str, **overrides) -> dict:
    data = {
        "subnet_acquirer_id": "9",
        "payment_id": payment_id,
        "ecr_transaction_id": "POS7-000004411-A",
        "terminal_menu_text": "Anulación pedido 4411",
        "print_copies": "BOTH",
        "terminals_list": [{"terminal_id": T2}],
    }
    data.update(overrides)
    return {"reversal_request_data": data}


class Api:
    """Speaks the provider's API through Django's test client, like the portal's gateway."""

    def __init__(self, client, *, cuit=CUIT, subnet="9", public_key=PUBLIC_KEY, secret=SECRET_KEY):
        self.client = client
        self.cuit = cuit
        self.subnet = subnet
        self.public_key = public_key
        self.secret = secret
        self._token = None

    def basic(self, public_key=None, secret=None) -> str:
        raw = f"{public_key or self.public_key}:{secret or self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def token(self) -> str:
        response = self.client.get(
            TOKEN, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=self.basic()
        )
        assert response.status_code == 200, response.content
        self._token = response.json()["access_token"]
        return self._token

    def call(self, method, path, *, query=None, body=None, token=None):
        if token is None:
            token = self._token or self.token()
        url = f"{path}?{urlencode(query)}" if query else path
        data = "" if body is None else json.dumps(body)
        return self.client.generic(
            method,
            url,
            data=data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    def q(self, **extra):
        return {"subnet_acquirer_id": self.subnet, "cuit_cuil": self.cuit, **extra}

    # Payments
    def create_payment(self, body=None, **overrides):
        body = body if body is not None else payment_body(**overrides)
        return self.call("POST", PAYMENTS, query={"cuit_cuil": self.cuit}, body=body)

    def get_payment(self, payment_id):
        return self.call("GET", f"{PAYMENTS}/{payment_id}", query=self.q())

    def cancel_payment(self, payment_id):
        return self.call("PUT", f"{PAYMENTS}/{payment_id}/cancellations", query=self.q())

    def search(self, body):
        return self.call("POST", f"{PAYMENTS}/searches", query={"cuit_cuil": self.cuit}, body=body)

    # Reversals
    def create_reversal(self, payment_id, **overrides):
        body = reversal_body(payment_id, **overrides)
        return self.call("POST", REVERSALS, query={"cuit_cuil": self.cuit}, body=body)

    def get_reversal(self, reversal_id):
        return self.call("GET", f"{REVERSALS}/{reversal_id}", query=self.q())

    def cancel_reversal(self, reversal_id):
        return self.call("PUT", f"{REVERSALS}/{reversal_id}/cancellations", query=self.q())

    # Refunds
    def create_refund(self, **overrides):
        body = refund_body(**overrides)
        return self.call("POST", REFUNDS, query={"cuit_cuil": self.cuit}, body=body)

    def get_refund(self, refund_id):
        return self.call("GET", f"{REFUNDS}/{refund_id}", query=self.q())

    def cancel_refund(self, refund_id):
        return self.call("PUT", f"{REFUNDS}/{refund_id}/cancellations", query=self.q())

    # Settlements
    def create_settlement(self, terminal_id=T2, print_receipt="true"):
        query = self.q(terminal_id=terminal_id, print_receipt=print_receipt)
        return self.call("POST", SETTLEMENTS, query=query)

    def get_settlement(self, settlement_id):
        return self.call("GET", f"{SETTLEMENTS}/{settlement_id}", query=self.q())


class Control:
    """The control endpoints: knobs and a person's hands on the terminal."""

    def __init__(self, client):
        self.client = client

    def _send(self, method, path, body):
        return self.client.generic(
            method,
            f"{CONTROL}/{path}",
            data=json.dumps(body or {}),
            content_type="application/json",
        )

    def get(self, path):
        response = self.client.get(f"{CONTROL}/{path}")
        assert response.status_code == 200, response.content
        return response.json()

    def put(self, path, body):
        return self._send("PUT", path, body)

    def post(self, path, body=None):
        return self._send("POST", path, body)

    def act(self, terminal_id, action, **body):
        return self.post(f"terminals/{terminal_id}/{action}", body)

    def pick(self, terminal_id, intention_id=None):
        response = self.act(terminal_id, "pick", intention_id=intention_id)
        assert response.status_code == 200, response.content
        return response.json()

    def pay(self, terminal_id, card="visa_credito"):
        response = self.act(terminal_id, "pay", card=card)
        assert response.status_code == 200, response.content
        return response.json()

    def faults(self, **changes):
        response = self.put("faults", changes)
        assert response.status_code == 200, response.content
        return response.json()


def paid_payment(api, control, *, card="visa_credito", terminal=T2, **overrides) -> dict:
    """Create a payment, have a person pick it on `terminal` and pay with `card`."""
    created = api.create_payment(**overrides)
    assert created.status_code == 200, created.content
    payment_id = created.json()["payment_data"]["payment_id"]
    control.pick(terminal, payment_id)
    control.pay(terminal, card)
    return api.get_payment(payment_id).json()
