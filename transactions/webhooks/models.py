"""Tables of the webhooks: the endpoint a POS client registered, deliveries and their attempts.

They belong to the `transactions` app (app label and table names are the ones they always had):
`transactions.models` imports this module at its bottom so Django registers them. Foreign keys
are strings so this module never imports `transactions.models`.
"""

import uuid

from django.db import models
from django.db.models import Q

__all__ = ["WebhookAttempt", "WebhookDelivery", "WebhookEndpoint"]


class WebhookEndpoint(models.Model):
    """The HTTPS URL a POS client wants intent outcomes POSTed to, with its signing secret.

    One per POS client (registering again replaces the URL and the secret). The secret is
    encrypted at rest with `stores.crypto` and shown once, when registered.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pos_client = models.OneToOneField(
        "stores.PosClient", on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook"
        verbose_name_plural = "webhooks"

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.pk} {self.url!r}>"

    def set_secret(self, plaintext: str) -> None:
        from stores import crypto

        self.secret_encrypted = crypto.encrypt(plaintext)

    def get_secret(self) -> str:
        from stores import crypto

        return crypto.decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One event of one intent to deliver to one endpoint, retried until delivered or given up.

    Delivered at least once: the row is created in `pending`, every attempt is logged as a
    `WebhookAttempt`, a failed attempt sets `next_attempt_at` with exponential backoff and the
    retry sweep picks it up again; after `max_attempts` the delivery is `failed`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pendiente"
        DELIVERED = "delivered", "Entregado"
        FAILED = "failed", "Fallido"
        CANCELLED = "cancelled", "Cancelado"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    intent = models.ForeignKey(
        "transactions.Intent", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    event = models.CharField(max_length=32)
    # The intent's state when the event happened: one delivery per (intent, event, state), so a
    # repeated enqueue of the same change is a no-op but in_doubt -> approved sends both.
    intent_state = models.CharField(max_length=16)
    # The JSON sent, frozen when the event happened: every attempt sends the same document.
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds it until this time; another one does not send it meanwhile.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "entrega de webhook"
        verbose_name_plural = "entregas de webhook"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "intent", "event", "intent_state"],
                name="webhook_delivery_once_per_change",
            )
        ]
        indexes = [
            # The retry sweep's query: pending deliveries that are due. Partial, so it stays as
            # small as the deliveries in flight.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.get_status_display()})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, what came back, how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "intento de webhook"
        verbose_name_plural = "intentos de webhook"
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error}"
