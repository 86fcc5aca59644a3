"""``Idempotency-Key`` for every POST of the API (DESIGN rule 4).

The first request with a key claims it (a row, committed before the work starts); its
response is stored when it ends, as the bytes and content type that were sent. A repeat
with the same key and the same body gets those bytes again, with ``Idempotent-Replayed:
true``; with another body, 409 ``idempotency_key_reused``; while the first is still
running, 409 ``idempotency_key_in_progress`` with ``Retry-After``. Server errors are not
stored, so a client may retry them. Records expire after ``IDEMPOTENCY_KEY_TTL_HOURS``.
"""

import datetime
import hashlib
import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from merchants.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from merchants.locks import idempotency_record_lock
from merchants.models import IdempotencyRecord, Merchant

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# A claim whose request has not finished after this long is taken to be abandoned (its
# process died): a repeat may take it over.
_ABANDONED_AFTER = datetime.timedelta(seconds=120)


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body.hex()
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotency_claim(
    *, merchant: Merchant, key: str, method: str, path: str, fingerprint: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim ``key`` for this request. Returns (record, replay): ``replay`` is True when
    the record holds a finished response to send again."""
    if not _KEY.match(key):
        raise InvalidIdempotencyKey(
            "Use 1 to 255 printable ASCII characters without spaces.", field="Idempotency-Key"
        )
    now = timezone.now()
    ttl = datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    with transaction.atomic():
        record = idempotency_record_lock(merchant=merchant, key=key)
        if record is not None and record.expires_at <= now:
            record.delete()
            record = None
        if record is None:
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        merchant=merchant,
                        key=key,
                        method=method,
                        path=path,
                        request_hash=fingerprint,
                        created_at=now,
                        expires_at=now + ttl,
                    )
            except IntegrityError:
                raise IdempotencyKeyInProgress(field="Idempotency-Key") from None
            return record, False
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "The key was first used for another request; use a new key.",
                field="Idempotency-Key",
            )
        if record.status_code is not None:
            return record, True
        if now - record.created_at < _ABANDONED_AFTER:
            raise IdempotencyKeyInProgress(field="Idempotency-Key")
        record.created_at = now
        record.save(update_fields=["created_at"])
        return record, False


def idempotency_finish(
    *, record: IdempotencyRecord, status_code: int, content: bytes | None, content_type: str
) -> None:
    """Store the response the claimed request sent. A server error, or a response with no
    body to keep (``content`` None, e.g. a stream), frees the key instead."""
    if status_code >= 500 or content is None:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status_code, response_bytes=content, content_type=content_type
    )


def idempotency_purge_expired(*, now: datetime.datetime | None = None, batch: int = 5000) -> int:
    """Delete expired records in bounded batches; returns how many."""
    now = now or timezone.now()
    deleted = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
