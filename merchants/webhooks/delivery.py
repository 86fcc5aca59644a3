"""Delivering the outbox: fan-out, claim, sign, send, retry, log, disable.

The life of an event:

1. ``event_publish`` writes the ``OutboxEvent`` in the transaction of the change. Once it
   commits, a worker is nudged for merchants with an active endpoint; the scheduled job
   (every minute) is what guarantees delivery, the nudge only makes it sooner.
2. ``outbox_dispatch`` takes the rows not yet dispatched, oldest first, in bounded
   batches (``SKIP LOCKED`` on PostgreSQL, so dispatchers on several hosts share them),
   and writes a ``WebhookDelivery`` per active endpoint that wants the type and existed
   when the event was written (unique per event and endpoint: running twice adds none).
3. ``deliveries_due`` lists the pending deliveries whose time has come, oldest event
   first, leaving out any whose member (``subject``) has an earlier event still pending
   to the same endpoint, or still undispatched: a member's events reach an endpoint in
   the order they happened, each after the one before was delivered or given up.
4. ``delivery_send`` claims one (row lock, ``SKIP LOCKED``; the due and order checks again;
   ``next_attempt_at`` pushed a lease ahead and the attempt counted), commits, signs and
   POSTs it, then records the attempt and its outcome. A second sender finds it not due;
   a sender that dies leaves it due again when the lease ends. So an event is sent once
   unless a worker dies mid-request (then the receiver sees the same ``webhook-id``
   twice, which Standard Webhooks tells receivers to expect).

Outcomes: a 2xx delivers. Anything else fails the attempt (a 3xx too: redirects are not
followed; 429, 502 and 504 included) and the next is scheduled by ``SCHEDULE`` with up
to 10% jitter (or later, when a 429 or 503 says ``Retry-After``: up to a day), about three
days in all; after the last, the delivery is given up. A 410
gives up and disables the endpoint at once. An endpoint failing without a single success
for ``DISABLE_AFTER`` is disabled. Either way the merchant's owners are emailed.

The request: the body is ``{"id", "type", "timestamp", "sequence", "data"}`` (``sequence``
is the outbox row's id, which grows per member, see ``OutboxEvent``), the headers are
Standard Webhooks' ``webhook-id`` (``evt_<sequence>``, the same on every attempt and
replay), ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``{id}.{timestamp}.{body}``, made by the ``standardwebhooks`` package; during a secret
rotation's overlap, a second signature with the previous secret).
"""

import datetime
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from standardwebhooks import Webhook

from core.actors import Actor
from merchants.exceptions import UnsafeWebhookURL
from merchants.models import (
    DeliveryStatus,
    EndpointStatus,
    MembershipRole,
    MerchantMembership,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from merchants.services import outbox, webhook_endpoints
from merchants.webhooks import address, transport

SENDER = Actor.system("deliver_webhooks")
# The wait after each failed attempt (Standard Webhooks' example schedule): ten attempts
# over about three days and a half.
SCHEDULE = (
    datetime.timedelta(seconds=5),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
    datetime.timedelta(hours=2),
    datetime.timedelta(hours=5),
    datetime.timedelta(hours=10),
    datetime.timedelta(hours=14),
    datetime.timedelta(hours=20),
    datetime.timedelta(hours=24),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.1
DISABLE_AFTER = datetime.timedelta(days=5)
# Longer than a request can take (the timeout), so a claim never runs out mid-request.
LEASE = datetime.timedelta(seconds=120)
USER_AGENT = "LoyaltyWebhooks/1.0"
SHORT_WAIT = datetime.timedelta(minutes=1)
# The longest pause a receiver's Retry-After may ask for.
RETRY_AFTER_MAX = datetime.timedelta(hours=24)


def retry_delay(attempts: int, rng: random.Random | None = None) -> datetime.timedelta | None:
    """The wait after ``attempts`` failed attempts, with jitter; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = SCHEDULE[attempts - 1]
    return base * (1 + (rng or random).uniform(0, JITTER))


def _skip_locked(queryset: QuerySet) -> QuerySet:
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.select_for_update()


# -- fan-out ----------------------------------------------------------------------------------


def outbox_dispatch(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> int:
    """Give up to ``batch_size`` undispatched outbox rows their deliveries; how many rows."""
    with transaction.atomic():
        rows = OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id")
        if merchant_id is not None:
            rows = rows.filter(merchant_id=merchant_id)
        rows = list(_skip_locked(rows)[:batch_size])
        if not rows:
            return 0
        endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
        for endpoint in WebhookEndpoint.objects.filter(
            merchant_id__in={row.merchant_id for row in rows}, status=EndpointStatus.ACTIVE
        ):
            endpoints[endpoint.merchant_id].append(endpoint)
        deliveries = [
            WebhookDelivery(
                merchant_id=row.merchant_id,
                endpoint=endpoint,
                event=row,
                subject=row.subject,
                next_attempt_at=now,
            )
            for row in rows
            for endpoint in endpoints[row.merchant_id]
            # An endpoint hears of what happens after it was added.
            if endpoint.wants(row.type) and endpoint.created_at <= row.created_at
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[row.pk for row in rows]).update(dispatched_at=now)
    return len(rows)


# -- which deliveries are due -----------------------------------------------------------------


def _due(queryset: QuerySet[WebhookDelivery], now: datetime.datetime) -> QuerySet:
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        subject=OuterRef("subject"),
        event_id__lt=OuterRef("event_id"),
        status=DeliveryStatus.PENDING,
        replayed_at__isnull=True,
    )
    earlier_undispatched = OutboxEvent.objects.filter(
        merchant_id=OuterRef("merchant_id"),
        subject=OuterRef("subject"),
        pk__lt=OuterRef("event_id"),
        dispatched_at__isnull=True,
    )
    in_order = (
        Q(subject="")
        | Q(replayed_at__isnull=False)
        | (~Exists(earlier_pending) & ~Exists(earlier_undispatched))
    )
    return queryset.filter(
        in_order,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now,
        endpoint__status=EndpointStatus.ACTIVE,
    )


def deliveries_due(
    *, now: datetime.datetime, limit: int = 500, merchant_id: int | None = None
) -> list[int]:
    """The ids of deliveries that may be sent now, oldest event first."""
    due = _due(WebhookDelivery.objects.all(), now)
    if merchant_id is not None:
        due = due.filter(merchant_id=merchant_id)
    return list(due.order_by("event_id", "pk").values_list("pk", flat=True)[:limit])


# -- one delivery ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Request:
    url: str
    headers: dict[str, str]
    body: bytes


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body of ``event``: the same bytes on every attempt."""
    data = dict(event.payload or {})
    if event.subject and "member" not in data:
        data["member"] = {"external_id": event.subject}
    envelope = {
        "id": webhook_id(event),
        "type": event.type,
        "timestamp": event.occurred_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "sequence": event.pk,
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_id(event: OutboxEvent) -> str:
    return f"evt_{event.pk}"


def request_build(
    *, endpoint: WebhookEndpoint, event: OutboxEvent, at: datetime.datetime
) -> Request:
    """The signed request for ``event`` to ``endpoint``, stamped ``at``."""
    body = event_body(event)
    msg_id = webhook_id(event)
    signatures = [Webhook(endpoint.secret).sign(msg_id=msg_id, timestamp=at, data=body)]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > at
    ):
        signatures.append(
            Webhook(endpoint.previous_secret).sign(msg_id=msg_id, timestamp=at, data=body)
        )
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
    return Request(url=endpoint.url, headers=headers, body=body)


@dataclass(frozen=True, kw_only=True)
class Claim:
    delivery: WebhookDelivery
    number: int


def _claim(delivery_id: int, now: datetime.datetime) -> Claim | None:
    with transaction.atomic():
        delivery = (
            _skip_locked(_due(WebhookDelivery.objects.filter(pk=delivery_id), now))
            .select_related("endpoint", "event")
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.last_attempt_at = now
        delivery.save(update_fields=["attempts", "next_attempt_at", "last_attempt_at"])
    return Claim(delivery=delivery, number=delivery.attempts)


def delivery_send(*, delivery_id: int, now: datetime.datetime | None = None) -> str:
    """Send one delivery if it is due (see the module's docstring); returns what happened:
    ``"not_due"``, ``"delivered"``, ``"retry"``, ``"given_up"`` or ``"disabled"``.
    ``now`` is the scheduler's clock (tests move it); the signature's timestamp is the
    real time of the request."""
    now = now or timezone.now()
    claim = _claim(delivery_id, now)
    if claim is None:
        return "not_due"
    delivery = claim.delivery
    endpoint = delivery.endpoint
    sent_at = timezone.now()
    request = request_build(endpoint=endpoint, event=delivery.event, at=sent_at)
    try:
        target = address.url_target(endpoint.url)
    except UnsafeWebhookURL as refused:
        answer = transport.Answer(status=None, error=f"Refused: {refused.detail}"[:500])
    else:
        answer = transport.post(
            target=target,
            headers=request.headers,
            body=request.body,
            timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
        )
    return _record(claim, request, answer, now=now, sent_at=sent_at)


def _succeeded(answer: transport.Answer) -> bool:
    return answer.status is not None and 200 <= answer.status < 300


def _failure_text(answer: transport.Answer) -> str:
    if answer.error:
        return answer.error
    if answer.status is not None and 300 <= answer.status < 400:
        return f"HTTP {answer.status}: redirects are not followed"
    return f"HTTP {answer.status}"


def _record(
    claim: Claim,
    request: Request,
    answer: transport.Answer,
    *,
    now: datetime.datetime,
    sent_at: datetime.datetime,
) -> str:
    succeeded = _succeeded(answer)
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=claim.delivery.pk)
        )
        endpoint = delivery.endpoint
        WebhookAttempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            number=claim.number,
            url=request.url,
            request_headers=request.headers,
            request_body=request.body.decode(),
            response_status=answer.status,
            response_body=answer.body[: transport.RESPONSE_KEEP],
            duration_ms=answer.duration_ms,
            error="" if succeeded else _failure_text(answer)[:500],
            succeeded=succeeded,
            attempted_at=sent_at,
        )
        if delivery.attempts != claim.number or delivery.status != DeliveryStatus.PENDING:
            # Another sender claimed it after this claim's lease ran out: its outcome counts.
            return "superseded"
        delivery.last_status_code = answer.status
        if succeeded:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            delivery.last_error = ""
            delivery.save()
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            _send_next_when_committed(delivery, now)
            return "delivered"
        delivery.last_error = _failure_text(answer)[:500]
        if answer.status == 410:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.save()
            _endpoint_disable_failing(
                endpoint, "The endpoint answered 410 Gone: it asked not to be sent to.", now
            )
            return "disabled"
        failing_since = endpoint.failing_since or now
        if endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        wait = retry_delay(delivery.attempts)
        if wait is not None and answer.retry_after is not None:
            # The receiver asked for a pause (429, 503): at least that, up to a day.
            wait = max(wait, min(answer.retry_after, RETRY_AFTER_MAX))
        delivery.status = DeliveryStatus.PENDING if wait else DeliveryStatus.FAILED
        delivery.next_attempt_at = now + wait if wait else None
        delivery.save()
        if now - failing_since >= DISABLE_AFTER:
            days = DISABLE_AFTER.days
            _endpoint_disable_failing(
                endpoint,
                f"Every request failed for {days} days (last: {delivery.last_error}).",
                now,
            )
            return "disabled"
        if wait is not None and wait < SHORT_WAIT:
            _send_later_when_committed(delivery.pk, wait)
        return "retry" if wait else "given_up"


def _send_next_when_committed(delivery: WebhookDelivery, now: datetime.datetime) -> None:
    """The member's next event to this endpoint was waiting for this one: send it now
    rather than at the next run."""
    if not delivery.subject:
        return
    following = (
        _due(
            WebhookDelivery.objects.filter(
                endpoint_id=delivery.endpoint_id,
                subject=delivery.subject,
                event_id__gt=delivery.event_id,
            ),
            now,
        )
        .order_by("event_id")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        from merchants.tasks import deliver_webhook

        transaction.on_commit(lambda: deliver_webhook.delay(following), robust=True)


def _send_later_when_committed(delivery_id: int, wait: datetime.timedelta) -> None:
    from merchants.tasks import deliver_webhook

    countdown = int(wait.total_seconds()) + 1
    transaction.on_commit(
        lambda: deliver_webhook.apply_async((delivery_id,), countdown=countdown), robust=True
    )


def _endpoint_disable_failing(
    endpoint: WebhookEndpoint, reason: str, now: datetime.datetime
) -> None:
    """Disable an endpoint the deliveries gave up on (in the caller's transaction) and
    email the merchant's owners once that commits."""
    if not endpoint.is_active:
        return
    webhook_endpoints.webhook_endpoint_disable(endpoint=endpoint, reason=reason, actor=SENDER)
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: endpoint_disabled_email_send(endpoint_id=endpoint_id))


def endpoint_disabled_email_send(*, endpoint_id: int) -> int:
    """Tell the merchant's owners that an endpoint was disabled, and why; how many emails."""
    endpoint = WebhookEndpoint.objects.select_related("merchant").filter(pk=endpoint_id).first()
    if endpoint is None:
        return 0
    owners = list(
        MerchantMembership.objects.filter(
            merchant_id=endpoint.merchant_id, role=MembershipRole.OWNER
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not owners:
        return 0
    context = {
        "merchant": endpoint.merchant,
        "endpoint": endpoint,
        "portal_link": settings.PUBLIC_BASE_URL + f"/portal/webhooks/{endpoint.pk}/",
        "provider": settings.PROVIDER_NAME,
    }
    send_mail(
        subject=f"{endpoint.merchant.name}: a webhook endpoint was disabled",
        message=render_to_string("merchants/email/webhook_endpoint_disabled.txt", context),
        from_email=None,
        recipient_list=owners,
    )
    return len(owners)


# -- the job ----------------------------------------------------------------------------------


@dataclass
class DispatchResult:
    events: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        sent = ", ".join(f"{count} {name}" for name, count in sorted(self.outcomes.items()))
        return f"{self.events} event(s) dispatched; deliveries: {sent or 'none due'}"


def webhooks_dispatch(
    *,
    now: datetime.datetime,
    batch_size: int = 500,
    merchant_id: int | None = None,
    send: Callable[[int], str | None] | None = None,
) -> DispatchResult:
    """The scheduled run: dispatch new outbox rows, then send the deliveries that are due
    (``send``: by default here and now; the scheduled task hands each to a worker of its
    own). Bounded: ``batch_size`` rows and deliveries a run."""
    result = DispatchResult(
        events=outbox_dispatch(now=now, batch_size=batch_size, merchant_id=merchant_id)
    )
    if merchant_id is None:
        _live_refresh()
    for delivery_id in deliveries_due(now=now, limit=batch_size, merchant_id=merchant_id):
        outcome = (
            send(delivery_id)
            if send is not None
            else delivery_send(delivery_id=delivery_id, now=now)
        )
        outcome = outcome or "queued"
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    return result


def _live_refresh() -> None:
    live = set(
        WebhookEndpoint.objects.filter(status=EndpointStatus.ACTIVE)
        .values_list("merchant_id", flat=True)
        .distinct()
    )
    outbox.webhooks_live_mark(merchant_ids_live=live)
