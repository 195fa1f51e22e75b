"""What the benchmark scripts share (they run as `python bench/<name>.py`, so this directory is
on their import path)."""

from __future__ import annotations

# A throw-away Fernet key for the portal's encrypted fields in a bench's own database.
FERNET_KEY = "p7nWezPIC70-6hBUpYVIxZx9rkBrLoXVBW0wuXy6c4c="


def forget_redis_keys(redis_url: str, prefix: str) -> None:
    """Deletes this run's keys (`<prefix>:*`) from a Redis others may share: never FLUSHDB."""
    import redis  # noqa: PLC0415 (only with a Redis)

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)


SQL_INTENT_DEFAULTS = {  # NOT NULL columns without a database default, as Django writes them
    "installments": "1",
    "brand_restriction": "''",
    "method": "'card'",
    "menu_text": "''",
    "print_copies": "'BOTH'",
    "receipt_notes": "''",
    "print_receipt": "true",
    "unknown_status": "false",
    "entry_mode": "''",
    "card_bin": "''",
    "card_last_four": "''",
    "authorization_code": "''",
    "ticket_number": "''",
    "response_code": "''",
    "response_message": "''",
    "client_receipt": "''",
    "merchant_receipt": "''",
    "cancel_attempts": "0",
    "needs_attention": "false",
    "attention_reason": "''",
    "followup_status": "''",
    "reference_held": "false",
    "resolution": "''",
    "change_amount": "0",
    "reference": "''",
    "payment_type": "''",
    "acquirer": "''",
    "card_brand": "''",
    "card_brand_code": "''",
    "provider_id": "''",
    "provider_status": "''",
    "ecr_transaction_id": "''",
}


def insert_intents(cursor, columns: dict[str, str], source: str, params: dict) -> int:
    """INSERT INTO the ledger the rows of `source` (SQL with the aliases used in `columns`),
    completing the NOT NULL columns the expressions leave out with Django's defaults."""
    full = {**SQL_INTENT_DEFAULTS, **columns}
    names = ", ".join(full)
    values = ",\n  ".join(f"{expr}" for expr in full.values())
    cursor.execute(
        f"INSERT INTO transactions_intent (public_id, {names})\n"
        f"SELECT gen_random_uuid(),\n  {values}\n{source}",
        params,
    )
    return cursor.rowcount
