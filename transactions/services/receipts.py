"""Sending a receipt by e-mail (issue 12, item 14): validated, limited, audited.

The mail is sent outside any database transaction (an SMTP server may take seconds), and the
audit event is written only once it left: the history says what was actually sent, to whom and
by whom. The limits count those events, so they hold across processes and restarts.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.utils import timezone

from transactions.errors import Code, IntentRuleError
from transactions.events import Actor, intent_note
from transactions.models import Intent, IntentEvent
from transactions.receipts import receipt_for

logger = logging.getLogger(__name__)

# A customer may ask again (a typo, a second address); more than this is not a customer.
SENDS_PER_INTENT = 3
# A person at a busy counter sends a few an hour; hundreds would be the portal used as a relay.
SENDS_PER_USER = 30
WINDOW = dt.timedelta(hours=1)


def _mask(address: str) -> str:
    """`juana@example.com` -> `j***@example.com`: enough to recognise it, for the log only."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def receipt_send(*, intent: Intent, email: str, user) -> None:
    """E-mails the receipt of an approved payment, reversal or refund to `email`.

    Refuses (IntentRuleError, nothing sent nor written) an invalid address, an intent without a
    receipt, or a send beyond the limits: `SENDS_PER_INTENT` per intent and `SENDS_PER_USER` per
    person within `WINDOW`."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            "Ingresá un e-mail válido, p. ej. nombre@dominio.com.",
            field="email",
        ) from exc
    receipt = receipt_for(intent)
    since = timezone.now() - WINDOW
    sent = IntentEvent.objects.filter(type=IntentEvent.Type.RECEIPT, created_at__gte=since)
    if sent.filter(intent=intent).count() >= SENDS_PER_INTENT:
        raise IntentRuleError(
            Code.RECEIPT_RATE_LIMITED,
            f"Este comprobante ya se envió {SENDS_PER_INTENT} veces en la última hora: "
            "probá más tarde o imprimilo.",
            field="email",
        )
    if sent.filter(actor_user=user).count() >= SENDS_PER_USER:
        raise IntentRuleError(
            Code.RECEIPT_RATE_LIMITED,
            f"Enviaste {SENDS_PER_USER} comprobantes en la última hora: esperá un rato para "
            "enviar más.",
            field="email",
        )
    subject = f"{receipt.title} · {receipt.store} · {receipt.amount_text}"
    try:
        send_mail(
            subject,
            receipt.text(),
            settings.DEFAULT_FROM_EMAIL,
            [email],
            fail_silently=False,
        )
    except Exception as exc:  # SMTP errors are many (socket, auth, refused recipients)
        logger.warning(
            "receipt of %s to %s not sent: %r", intent.public_id, _mask(email), type(exc).__name__
        )
        raise IntentRuleError(
            Code.EMAIL_NOT_SENT,
            "No se pudo enviar el correo. Probá de nuevo en unos minutos o imprimí el comprobante.",
            field="email",
        ) from exc
    intent_note(
        intent,
        type=IntentEvent.Type.RECEIPT,
        message=f"Comprobante enviado por e-mail a {email}",
        actor=Actor(user=user),
    )
