"""The floor of `POST /api/v1/payments`, measured by `bench/api.py` beside the real create.

The portal's WSGI application (`ecrportal.wsgi`) with one more POS API route, mounted only in
the gunicorn that `bench/api.py` starts (`gunicorn ... floor_app:application`), never in the
portal: `POST /api/v1/bench/payments-floor` does what no create can go without, through the
portal's own statements and gateway, and nothing else:

- the POS API's request handling (API-key auth, throttle, JSON in and out), as the ping has;
- the Idempotency-Key's claim, its link to the intent and its stored answer (`api.idempotency`);
- the intent row, its offered terminal and its `created` event, committed before the provider
  is called (`pipeline.create_row` writes them with the same `CompiledInsert`s);
- the provider's create through the portal's gateway (`gateway_for(...).payment_create`);
- the answer recorded as the create records it (`pipeline.send`: the guarded transition, its
  event, the provider-call row and the key's answer in one transaction).

Left out, because a create needs them but they are not writes: the request's validation and
the rules (amount, text, terminal of the store, go-live), the credential read (taken once per
process here), the terminals' lock and busy check, the reference check and the intent's full
document as the answer (the floor answers its id and state). So the real create can approach
this figure but never go below it: it is what the API goals can be read against.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

# First: gunicorn's entry point, and it sets Django up before the models below are imported.
from ecrportal.wsgi import application  # noqa: F401

# isort: split
from django.db import transaction
from django.urls import path
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

import ecrportal.urls
from stores.models import Terminal
from stores.selectors import credential_for_store
from transactions.api.idempotency import (
    idempotency_claim,
    idempotency_finish,
    idempotency_link,
    request_fingerprint,
)
from transactions.api.views.base import PosApiView
from transactions.backoff import created_grace_seconds
from transactions.events import event_write
from transactions.gateway import PaymentRequest, gateway_for
from transactions.models import Intent, IntentEvent
from transactions.services.common import actor_for
from transactions.services.pipeline import (
    _INTENT_INSERT,
    _OFFERED_INSERT,
    _Offered,
    intent_answered_listener,
    send,
)
from transactions.states import Kind, State

_credentials: dict[int, object] = {}
_terminals: dict[str, Terminal] = {}


class PaymentFloorView(PosApiView):
    """The floor of a payment create (see the module): the bench's POSTs send the same body and
    headers as to `/payments`, on terminals of their own."""

    def post(self, request):
        pos_client = self.pos_client
        store = pos_client.store
        data = request.data
        terminal = _terminals.get(data["terminal"])
        if terminal is None:
            terminal = _terminals[data["terminal"]] = Terminal.objects.get(
                store=store, public_id=data["terminal"]
            )
        credential = _credentials.get(store.pk)
        if credential is None:
            credential = _credentials[store.pk] = credential_for_store(store=store)
        record, claimed = idempotency_claim(
            pos_client=pos_client,
            key=request.headers["Idempotency-Key"],
            method=request.method,
            path=request.path,
            fingerprint=request_fingerprint(method=request.method, path=request.path, data=data),
        )
        if not claimed:
            return Response({"error": "replay"}, status=status.HTTP_409_CONFLICT)
        actor = actor_for(None, pos_client)
        amount = Decimal(data["amount"])
        with transaction.atomic():
            now = timezone.now()
            intent = _INTENT_INSERT.save(
                Intent(
                    public_id=uuid.uuid4(),
                    store=store,
                    credential=credential,
                    kind=Kind.PAYMENT,
                    state=State.CREATED,
                    amount=amount,
                    reference=data["reference"],
                    ecr_transaction_id=data["reference"],
                    menu_text=data["reference"],
                    requested_by_pos=pos_client,
                    next_poll_at=now + timedelta(seconds=created_grace_seconds()),
                )
            )
            _OFFERED_INSERT.save(_Offered(intent_id=intent.pk, terminal_id=terminal.pk))
            event_write(
                intent=intent,
                type=IntentEvent.Type.CREATED,
                to_state=intent.state,
                **actor.event_fields(),
            )
            idempotency_link(record=record, intent=intent)
        answer_body = {"id": str(intent.public_id)}

        def store_answer(answered: Intent) -> None:
            answer_body["state"] = answered.state
            idempotency_finish(
                record=record,
                status_code=status.HTTP_201_CREATED,
                body=answer_body,
                content_type="application/json",
                intent_id=intent.pk,
            )

        request_body = PaymentRequest(
            amount=amount,
            terminal_ids=[terminal.terminal_id],
            menu_text=intent.menu_text,
            reference=intent.ecr_transaction_id,
            installments=1,
            brand=None,
            method="CARD",
            print_copies="BOTH",
            receipt_notes=None,
            change_amount=None,
            qr_benefit_code=None,
        )
        gateway = gateway_for(credential)
        # The create's own step 3-4 (`pipeline.send`): the call, then its answer, provider-call
        # row and the key's answer in one transaction.
        with intent_answered_listener(store_answer):
            send(
                intent,
                lambda: gateway.payment_create(
                    cuit=store.merchant.cuit, request=request_body, intent_id=intent.pk
                ),
                actor=actor,
            )
        return Response(answer_body, status=status.HTTP_201_CREATED)


# Before the first request resolves a URL (Django reads the patterns then, once).
ecrportal.urls.urlpatterns.insert(
    0, path("api/v1/bench/payments-floor", PaymentFloorView.as_view())
)
