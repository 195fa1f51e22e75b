"""Webhooks to POS clients: what a POS key registers, and the at-least-once delivery of intent
outcomes to it.

- `models`: `WebhookEndpoint`, `WebhookDelivery`, `WebhookAttempt` (tables of the `transactions`
  app).
- `signing`: the `X-ECR-Signature` recipe (sign and verify).
- `services`: register, delete, pause or resume an endpoint; enqueue a delivery when an intent
  becomes final or in doubt.
- `selectors`: the endpoint of a POS client, the endpoints of some stores.
- `delivery`: one attempt of one delivery (claim, DNS check and pinning, signing, sending through
  `transactions.gateway.outbound`, retries with backoff) and the sweep of due retries.

The django-q2 entry points are `transactions.tasks_webhooks` (their dotted paths are stored in
schedules and queued tasks). Nothing here imports `transactions.api` or `transactions.dashboard`:
the lifecycle engine reaches this package, and the interfaces call it.
"""
