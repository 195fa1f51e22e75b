"""Tables of the POS API: idempotency keys (the webhooks' live in `transactions.webhooks.models`).

Foreign keys are strings so this module never imports `transactions.models` (which imports it at
its bottom so Django registers these models under the `transactions` app).
"""

from django.db import models

__all__ = ["IdempotencyRecord"]


class IdempotencyRecord(models.Model):
    """One `Idempotency-Key` of one POS client and the answer the first request with it got.

    The row is inserted (state `in_progress`) before the request does anything: the unique
    constraint on (pos_client, key) is the claim, so of any number of simultaneous requests with
    one key exactly one runs. When it ends the answer is stored (`done`) and replayed to every
    later request with the same key and the same body. Rows live at least
    `IDEMPOTENCY_TTL` (48 h); `idempotency_prune()` deletes older ones.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "En curso"
        DONE = "done", "Terminada"

    # No index of its own: the unique (pos_client, key) index leads with it.
    pos_client = models.ForeignKey(
        "stores.PosClient",
        on_delete=models.CASCADE,
        related_name="idempotency_records",
        db_index=False,
    )
    key = models.CharField(max_length=255)
    # sha256 of method, path and canonical JSON body: "the same request" means the same hash.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_content_type = models.CharField(max_length=64, blank=True)
    # Not indexed: nothing looks a key up by its intent (intents are never deleted, and the
    # keys are pruned after `IDEMPOTENCY_TTL`), and without an index on it the UPDATE that
    # links a key to its new intent changes no indexed column, so PostgreSQL can make it a HOT
    # update (no index written) whenever the row's page has room.
    intent = models.ForeignKey(
        "transactions.Intent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="idempotency_records",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "clave de idempotencia"
        verbose_name_plural = "claves de idempotencia"
        constraints = [
            models.UniqueConstraint(fields=["pos_client", "key"], name="idempotency_key_per_pos")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_state_display()})"
