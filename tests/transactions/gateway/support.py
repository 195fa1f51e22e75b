"""Helpers of the gateway tests: a local credential and merchant, and a fake provider on an
httpx.MockTransport for the pure-unit parts (the contract tests use the simulator instead)."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field

import httpx

from stores.models import Credential, Merchant
from tests.simulator_client import SimulatorControl
from transactions.gateway import PrismaGateway

GW_CUIT = "30-71234567-1"
GW_PUBLIC_KEY = "pk_gateway_test"
GW_SECRET = "sk_very-secret-value-0123456789"
TERMINAL_1 = "38011127"
TERMINAL_2 = "38011128"

_counter = itertools.count(1)


def make_merchant(cuit: str = GW_CUIT) -> Merchant:
    merchant, _ = Merchant.objects.get_or_create(
        cuit=cuit, defaults={"legal_name": "ALMACEN DEMO SA"}
    )
    return merchant


def make_credential(
    *,
    base_url: str = "http://prisma.test",
    public_key: str = GW_PUBLIC_KEY,
    secret: str = GW_SECRET,
    environment: str = "homologation",
    merchant: Merchant | None = None,
) -> Credential:
    credential = Credential(
        name=f"Credencial gateway {next(_counter)}",
        environment=environment,
        base_url=base_url,
        public_key=public_key,
    )
    credential.set_secret(secret)
    credential.save()
    if merchant is not None:
        credential.merchants.add(merchant)
    return credential


# --- Fake provider (httpx.MockTransport) --------------------------------------------------------


@dataclass
class FakePrisma:
    """A scriptable stand-in for the provider, for unit tests of the client's own logic.

    `script[(method, path_suffix)]` is a list of responses (or callables) consumed in order; the
    last one repeats. Tokens are issued as `tok-1`, `tok-2`, ... and only listed ones are valid.
    """

    script: dict[tuple[str, str], list] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    token_ttl: int = 3599
    token_status: int = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/v1/oauth/accesstoken"):
            if self.token_status != 200:
                return httpx.Response(
                    self.token_status,
                    json={
                        "errors": [
                            {
                                "status": str(self.token_status),
                                "code": "OAU-401",
                                "title": "CREDENTIAL NO EXIST",
                                "acquirer_message": None,
                            }
                        ]
                    },
                )
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}-{uuid.uuid4().hex[:8]}"
            self.valid_tokens.add(token)
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "access_token": token,
                    "expires_in": self.token_ttl,
                    "scope": "paystore_terminals",
                    "apiKey": GW_PUBLIC_KEY,
                },
            )
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.valid_tokens:
            return httpx.Response(
                401,
                json={"errors": [{"status": "401", "code": "401", "title": "token inválido"}]},
            )
        for (method, suffix), answers in self.script.items():
            if request.method == method and path.endswith(suffix):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                return answer(request) if callable(answer) else answer
        return httpx.Response(404, json={"errors": [{"code": "404", "title": "sin guion"}]})

    def on(self, method: str, suffix: str, *answers) -> FakePrisma:
        self.script[(method, suffix)] = list(answers)
        return self

    def business_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if not r.url.path.endswith("/accesstoken")]

    def revoke_all(self) -> None:
        self.valid_tokens.clear()


def json_of(request: httpx.Request):
    return json.loads(request.content) if request.content else None


@dataclass
class SimWorld:
    """What the `sim` fixture of the gateway tests gives: the simulator's control client, our
    credential there, a gateway pointed at it and every token that gateway obtained."""

    control: SimulatorControl
    credential: object
    gateway: PrismaGateway
    issued_tokens: list[str]
