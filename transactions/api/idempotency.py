"""Idempotency keys: a POST repeated with the same `Idempotency-Key` runs once.

Contract (also in the OpenAPI description):

- Every POST needs `Idempotency-Key` (1-255 printable ASCII characters, e.g. a UUID):
  absent -> 400 `idempotency_key_missing`, malformed -> 400 `idempotency_key_invalid`.
- Same key, same method, path and body (canonical JSON) -> the stored answer again, same status
  and body, with `Idempotent-Replayed: true`; nothing runs a second time.
- Same key, another request -> 422 `idempotency_key_reused`.
- Same key while the first request is still running -> 409 `idempotency_request_in_progress`
  with `Retry-After: 1`.
- What is stored as the key's answer: every answer of a request that reached the lifecycle
  services, successes and refusals alike (`reference_in_use`, `reversal_not_allowed`, ...): a
  replay returns the same refusal; to try again after fixing the cause, use a new key. Except
  the refusals that created nothing and may succeed later (`RETRYABLE_REFUSALS`:
  `provider_unavailable`, `terminal_busy`): answered, then the key is released, so a retry with
  the same key runs again.
  Requests refused by input validation (400 `validation_error`, `amount_invalid`, unknown
  terminal, ...) or naming an object that does not exist (404) ran nothing, so the key is
  released: it can be used again, with the corrected body.
- A request that dies mid-way: once its intent row exists the key is linked to it (in the
  row's own transaction), and a replay answers that intent's current state (201). A request that
  fails before that frees its key, on a new database connection if its own died; a claim of a
  killed process that created nothing is forgotten after `ABANDONED_AFTER`, and the replay runs.
- Keys are kept at least 48 hours per POS client (`IDEMPOTENCY_TTL`); an older key counts as new.

The claim is an INSERT guarded by the unique constraint (pos_client, key), committed before the
request does anything, so under any concurrency exactly one request per key runs.
"""

import hashlib
import json
import logging
import re
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ecrportal.compiled_insert import CompiledInsert
from ecrportal.compiled_update import CompiledUpdate
from stores.models import PosClient
from transactions.api.models import IdempotencyRecord
from transactions.errors import Code

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL = timedelta(hours=48)
HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY_RE = re.compile(KEY_PATTERN)


# Refusals that created nothing at the provider and may succeed if the same request is sent again
# (the provider was unreachable or answered 5xx; the terminal had another operation on screen,
# in the portal's own check or by the provider's 409). They are answered but not stored as the
# key's answer: a POS retrying with the same key runs the request again. Every other refusal
# (`provider_rejected`, `reference_in_use`, `reversal_not_allowed`, ...) is final for its key.
RETRYABLE_REFUSALS = frozenset({Code.PROVIDER_UNAVAILABLE, Code.TERMINAL_BUSY})


def refusal_is_retryable(code: Code) -> bool:
    return code in RETRYABLE_REFUSALS


def idempotency_key_is_valid(key: str) -> bool:
    return bool(_KEY_RE.fullmatch(key))


def request_fingerprint(*, method: str, path: str, data) -> str:
    """sha256 of method, path and the body as canonical JSON (sorted keys, no spaces), so the
    same body sent with other key order or whitespace is the same request."""
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical}".encode()).hexdigest()


# Every POST claims its key with one, links it to its intent and stores its answer: compiled
# once per connection (`CompiledInsert`, `CompiledUpdate`).
_CLAIM_INSERT = CompiledInsert(IdempotencyRecord)
_RECORD_UPDATE = CompiledUpdate(IdempotencyRecord, where=("pk",))


def _insert_on_its_own(record: IdempotencyRecord) -> IdempotencyRecord:
    """Inserts the claim, committed by itself. Outside a transaction (every request: the portal
    runs in autocommit) the one INSERT is its own transaction: no BEGIN and COMMIT round trips.
    Inside one (a caller's, a test's), a savepoint keeps a refused insert from aborting it."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return _CLAIM_INSERT.save(record)
    return _CLAIM_INSERT.save(record)


def idempotency_claim(
    *, pos_client: PosClient, key: str, method: str, path: str, fingerprint: str
) -> tuple[IdempotencyRecord, bool]:
    """Claims the key for this request: (record, True) when this request must run, or the
    existing record and False when another request already holds or answered it."""
    for _ in range(3):
        try:
            record = _insert_on_its_own(
                IdempotencyRecord(
                    pos_client=pos_client,
                    key=key,
                    method=method.upper(),
                    path=path[:300],
                    fingerprint=fingerprint,
                )
            )
            return record, True
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(pos_client=pos_client, key=key).first()
        if existing is None:
            continue  # released between our insert and our read: claim again
        if existing.created_at < timezone.now() - IDEMPOTENCY_TTL:
            # Expired but not pruned yet: it counts as new. Delete that very row only.
            IdempotencyRecord.objects.filter(
                pk=existing.pk, created_at=existing.created_at
            ).delete()
            continue
        return existing, False
    raise RuntimeError("idempotency claim kept racing")  # pragma: no cover


def idempotency_finish(
    *,
    record: IdempotencyRecord,
    status_code: int,
    body,
    content_type: str,
    intent_id: int | None = None,
) -> None:
    """Stores the answer of the request that held the key; later replays return it. The link to
    the intent made when its row was committed (`idempotency_link`) is kept when the answer
    names none."""
    fields: dict[str, object] = {
        "state": IdempotencyRecord.State.DONE,
        "response_status": status_code,
        "response_body": body,
        "response_content_type": content_type[:64],
        "finished_at": timezone.now(),
    }
    if intent_id is not None:
        fields["intent_id"] = intent_id
    _RECORD_UPDATE.update(where={"pk": record.pk}, values=fields)


# A request that holds its key longer than this without having created an intent has died:
# creates finish (or are put in doubt) well within the gateway's timeouts.
ABANDONED_AFTER = timedelta(minutes=3)


def idempotency_link(*, record: IdempotencyRecord, intent) -> None:
    """Points a running request's key at the intent it just committed (before the provider call),
    so a replay can answer with that intent even if the request never finishes."""
    _RECORD_UPDATE.update(where={"pk": record.pk}, values={"intent_id": intent.pk})
    record.intent_id = intent.pk


def idempotency_forget_if_abandoned(*, record: IdempotencyRecord, now=None) -> bool:
    """Deletes an in-progress claim that created nothing and is older than `ABANDONED_AFTER`;
    returns whether it did (then the key may be claimed again)."""
    now = now or timezone.now()
    if (
        record.state != IdempotencyRecord.State.IN_PROGRESS
        or record.intent_id is not None
        or record.created_at > now - ABANDONED_AFTER
    ):
        return False
    deleted, _ = IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, intent__isnull=True
    ).delete()
    return deleted > 0


def idempotency_release_unless_linked(*, record: IdempotencyRecord) -> None:
    """After a request failed unexpectedly: frees its key unless an intent was committed for it
    (then the key keeps answering that intent).

    The failure may have been the database itself (a backend terminated, a network cut): the
    request's connection is then dead and every statement on it fails, which would leave the key
    held until `ABANDONED_AFTER`. So a failed attempt drops the connection and tries once more
    on a new one. Never raises: the caller is already handling the request's own error.
    """
    for attempt in (1, 2):
        try:
            # The committed truth, not the object in memory: the link made inside a transaction
            # that rolled back is set on the object but not in the row.
            IdempotencyRecord.objects.filter(
                pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, intent__isnull=True
            ).delete()
            return
        except DatabaseError:
            if attempt == 2 or not _drop_connection():
                logger.error(
                    "could not release the Idempotency-Key of a failed request (record %s); "
                    "it is forgotten after %s",
                    record.pk,
                    ABANDONED_AFTER,
                    exc_info=True,
                )
                return


def _drop_connection() -> bool:
    """Closes this thread's database connection so the next statement opens a new one. Not
    inside a transaction (a test's, or a caller's): the statement would fail the same way."""
    if connection.in_atomic_block:
        return False
    connection.close()
    return True


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forgets a claim whose request ran nothing, so the key may be used again."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS
    ).delete()


def idempotency_prune(*, now=None) -> int:
    """Deletes keys older than the TTL; returns how many. Scheduled daily."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
