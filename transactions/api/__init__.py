"""The POS REST API under `/api/v1/`: API-key auth, idempotent POSTs, problem+json, webhooks."""
