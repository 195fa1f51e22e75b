"""Tests of `transactions/webhooks/`. Delivery, signing and retries are tested end to end from
the POS API, which registers the endpoints: tests/transactions/api/test_webhooks.py."""
