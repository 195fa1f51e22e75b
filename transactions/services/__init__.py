"""Writes of the intent lifecycle, one module per concern:

- `create`: payment, reversal, refund and settlement creates (on the shared `pipeline`);
- `cancel`: withdrawing a waiting intention;
- `watch`: a long-poll or an open page refreshing its own intent;
- `operator`: what only a person does (resolve an in-doubt intent, close one Prisma never
  received, release its POS reference, acknowledge a flag);
- `batches`: closing a store's or every store's batches, and the daily automatic close;
- `fees`, `liquidation`, `differences`: the finance day (fee table, liquidación, differences).
- `approvals`: maker-checker (hold a refund or reversal above the store's threshold, approve,
  reject, withdraw, expire), `sending` (a written refund or reversal to the provider) and
  `money_controls` (a store's controls).

Callers use `from transactions import services` and `services.payment_create(...)`.
"""

from transactions.services.approvals import (
    approval_approve,
    approval_reject,
    approvals_expire_due,
)
from transactions.services.batches import (
    merchant_batch_close,
    store_batch_close,
    store_batch_close_due,
)
from transactions.services.cancel import intent_cancel, intent_send_cancel
from transactions.services.create import (
    payment_create,
    refund_create,
    reversal_create,
    settlement_create,
)
from transactions.services.operator import (
    RESOLVE_OUTCOMES,
    intent_acknowledge,
    intent_close_not_received,
    intent_release_reference,
    intent_resolve,
)
from transactions.services.pipeline import intent_answered_listener, intent_created_listener
from transactions.services.watch import intent_refresh

__all__ = [
    "RESOLVE_OUTCOMES",
    "approval_approve",
    "approval_reject",
    "approvals_expire_due",
    "intent_acknowledge",
    "intent_answered_listener",
    "intent_cancel",
    "intent_close_not_received",
    "intent_created_listener",
    "intent_refresh",
    "intent_release_reference",
    "intent_resolve",
    "intent_send_cancel",
    "merchant_batch_close",
    "payment_create",
    "refund_create",
    "reversal_create",
    "settlement_create",
    "store_batch_close",
    "store_batch_close_due",
]
