"""Writes of segments: save a definition, refresh who is in, score members (RFM).

A refresh compares who the definition matches now with who is in, and records the
difference in one transaction: a stay (``SegmentMembership``) opens for each member who
joined and closes for each who left, and each of those moves is an outbox event
(``segment.joined``, ``segment.left``) for the merchant's systems. The writes are
set-based (``INSERT ... SELECT`` from the compiled query), never a loop over members.

Two refreshes of one segment never interleave: each locks the segment's row first, and
the second then finds nothing left to do. A refresh is full (every member) or, between
full ones, limited to the members something happened to since the last one: a profile
change, a ledger entry, an order, an activity, a move in a segment this one names, a new
RFM score. Full refreshes run nightly, after the RFM scores, and on demand; they are also
what moves members of time-relative segments as days pass.
"""

# ruff: noqa: S608 (compiled queries and fixed table names; values are parameters)

import datetime
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum, Window
from django.db.models.functions import Ntile
from django.utils import timezone

from core.actors import Actor, actor_user
from core.advisory_locks import advisory_xact_lock
from loyalty.models import (
    Activity,
    LedgerEntry,
    Member,
    MemberScore,
    Order,
    Segment,
    SegmentMembership,
    Tier,
)
from loyalty.segments.definition import Context, Definition, definition_clean
from loyalty.segments.query import NET_TOTAL, segment_members
from loyalty.selectors import attribute_schema
from merchants.models import Merchant, OutboxEvent
from merchants.services.outbox import webhooks_nudge_when_committed

SAMPLE_SIZE = 20
# Rows written up to this long before a refresh started may commit after it read: the
# next incremental refresh looks back this far too.
MARGIN = datetime.timedelta(minutes=2)
RFM_DAYS = 365


# -- definitions -------------------------------------------------------------------------


def segment_context(*, merchant: Merchant, segment: Segment | None = None) -> Context:
    """What a definition of ``merchant`` may name: its tiers, its other segments (with
    the segments each of those names, for the cycle check), its CRM attributes."""
    others: dict[int, frozenset[int]] = {}
    for pk, data in Segment.objects.filter(merchant=merchant).values_list("pk", "definition"):
        if segment is not None and pk == segment.pk:
            continue
        others[pk] = _named_segments(data)
    return Context(
        tier_ids=frozenset(
            Tier.objects.filter(program__merchant=merchant, program__is_active=True).values_list(
                "pk", flat=True
            )
        ),
        segments=others,
        self_id=segment.pk if segment is not None else None,
        attributes=attribute_schema(merchant=merchant),
    )


def _named_segments(data: object) -> frozenset[int]:
    """The segment ids a stored definition names (stored ones are valid already)."""
    if not isinstance(data, dict):
        return frozenset()
    return frozenset(
        pk
        for group in data.get("groups", [])
        for condition in group.get("conditions", [])
        if condition.get("field") == "segment"
        for pk in condition.get("value", [])
    )


def definition_parse(
    *, merchant: Merchant, data: object, segment: Segment | None = None
) -> Definition:
    """``data`` checked against what the merchant has; ``InvalidDefinition`` otherwise."""
    return definition_clean(data, segment_context(merchant=merchant, segment=segment))


@transaction.atomic
def segment_save(*, segment: Segment, actor: Actor) -> Segment:
    """Check and save a segment (the admin's form builds it). Its members are not
    refreshed here: ``segment_refresh`` does it, by the job or on demand."""
    definition = definition_parse(
        merchant=segment.merchant, data=segment.definition, segment=segment if segment.pk else None
    )
    segment.definition = definition.as_json()
    segment.is_time_relative = definition.relative
    if segment.pk is None and segment.created_by_id is None:
        segment.created_by = actor_user(actor)
    segment.full_clean(exclude=["created_by"])
    segment.save()
    return segment


def _attribute_types(merchant: Merchant) -> dict[str, str]:
    return {name: spec.type for name, spec in attribute_schema(merchant=merchant).items()}


def definition_members(
    *,
    merchant: Merchant,
    definition: Definition,
    now: datetime.datetime,
    attribute_types: Mapping[str, str] | None = None,
) -> QuerySet[Member]:
    """Who ``definition`` matches at ``now``: what a refresh would make the segment."""
    return segment_members(
        merchant=merchant,
        definition=definition,
        now=now,
        attribute_types=_attribute_types(merchant) if attribute_types is None else attribute_types,
    )


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Member]
    took_ms: int


def segment_preview(
    *, merchant: Merchant, data: object, now: datetime.datetime, segment: Segment | None = None
) -> Preview:
    """How many members a definition being edited matches, and a sample of them; writes
    nothing. ``InvalidDefinition`` when it is not valid."""
    started = time.monotonic()
    definition = definition_parse(merchant=merchant, data=data, segment=segment)
    members = definition_members(merchant=merchant, definition=definition, now=now)
    # One statement: the sample, each row carrying the count of all that match.
    sample = list(
        members.select_related("tier")
        .annotate(matching=Window(Count("pk")))
        .order_by("-last_activity_at", "-pk")[:SAMPLE_SIZE]
    )
    count = sample[0].matching if sample else 0
    return Preview(count=count, sample=sample, took_ms=int((time.monotonic() - started) * 1000))


# -- refresh -----------------------------------------------------------------------------


@dataclass
class RefreshResult:
    segments: int = 0
    joined: int = 0
    left: int = 0

    def __str__(self) -> str:
        return f"{self.segments} segment(s), {self.joined} joined, {self.left} left"

    def add(self, other: "RefreshResult") -> None:
        self.segments += other.segments
        self.joined += other.joined
        self.left += other.left


def _changed_members(segment: Segment, definition: Definition, since: datetime.datetime) -> Q:
    """Members something happened to since ``since`` that could change whether the
    definition matches them."""
    merchant_id = segment.merchant_id
    changed = Q(updated_at__gte=since)
    for rows in (
        LedgerEntry.objects.filter(merchant_id=merchant_id, created_at__gte=since),
        Order.objects.filter(merchant_id=merchant_id, created_at__gte=since),
        Activity.objects.filter(merchant_id=merchant_id, created_at__gte=since),
        MemberScore.objects.filter(merchant_id=merchant_id, computed_at__gte=since),
    ):
        changed |= Q(pk__in=rows.values("member_id"))
    named = definition.segment_ids()
    if named:
        moves = SegmentMembership.objects.filter(segment_id__in=named).filter(
            Q(joined_at__gte=since) | Q(left_at__gte=since)
        )
        changed |= Q(pk__in=moves.values("member_id"))
    return changed


def _insert_select(table: str, columns: list[str], select: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {select}", params)
        return cursor.rowcount


def _events(segment: Segment, kind: str, at_column: str, at: datetime.datetime) -> None:
    """One outbox event per member whose stay opened (or closed) at ``at``: the columns
    ``event_publish`` writes, set-based (the subject is the member's ``external_id``, from
    which the delivered event's ``data.member`` comes; ``dedupe_key`` and
    ``dispatched_at`` stay empty, so the webhook dispatcher takes them up)."""
    ops = connection.ops
    stays = SegmentMembership._meta.db_table
    members = Member._meta.db_table
    payload = {"segment": {"id": segment.pk, "name": segment.name}}
    when = ops.adapt_datetimefield_value(at)
    _insert_select(
        OutboxEvent._meta.db_table,
        ["merchant_id", "type", "subject", "payload", "occurred_at", "created_at"],
        f"SELECT %s, %s, m.external_id, %s, %s, %s FROM {stays} s "
        f"JOIN {members} m ON m.id = s.member_id "
        f"WHERE s.segment_id = %s AND s.{at_column} = %s ORDER BY s.member_id",
        [
            segment.merchant_id,
            kind,
            ops.adapt_json_value(payload, None),
            when,
            when,
            segment.pk,
            when,
        ],
    )
    webhooks_nudge_when_committed(merchant_id=segment.merchant_id)


def segment_refresh(*, segment_id: int, now: datetime.datetime, full: bool = True) -> RefreshResult:
    """Bring one segment's members up to date (see the module's docstring); an inactive
    segment is left as it is."""
    started = time.monotonic()
    with transaction.atomic():
        segment = Segment.objects.select_for_update().select_related("merchant").get(pk=segment_id)
        if not segment.is_active:
            return RefreshResult()
        merchant = segment.merchant
        definition = definition_parse(merchant=merchant, data=segment.definition, segment=segment)
        # Each refresh stamps its moves with its own instant: later than the last one's.
        if segment.refreshed_at is not None and now <= segment.refreshed_at:
            now = segment.refreshed_at + datetime.timedelta(microseconds=1)
        since = None if full or segment.fully_refreshed_at is None else segment.refreshed_at
        matching = definition_members(merchant=merchant, definition=definition, now=now)
        current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
        joiners = matching.exclude(Exists(current.filter(member_id=OuterRef("pk"))))
        leavers = current.exclude(Exists(matching.filter(pk=OuterRef("member_id"))))
        if since is not None:
            changed = _changed_members(segment, definition, since - MARGIN)
            joiners = joiners.filter(changed)
            leavers = leavers.filter(
                member_id__in=Member.objects.filter(changed, merchant=merchant).values("pk")
            )
        left = leavers.update(left_at=now)
        select, params = joiners.order_by().values(mid=F("pk")).query.sql_with_params()
        joined = _insert_select(
            SegmentMembership._meta.db_table,
            ["segment_id", "member_id", "joined_at"],
            f"SELECT %s, u.mid, %s FROM ({select}) u",
            [segment.pk, connection.ops.adapt_datetimefield_value(now), *params],
        )
        if joined:
            _events(segment, "segment.joined", "joined_at", now)
        if left:
            _events(segment, "segment.left", "left_at", now)
        segment.refreshed_at = now
        fields = ["refreshed_at", "member_count", "refresh_took_ms"]
        if since is None:
            segment.fully_refreshed_at = now
            segment.member_count = current.count()
            fields.append("fully_refreshed_at")
        else:
            segment.member_count = max(0, segment.member_count + joined - left)
        segment.refresh_took_ms = int((time.monotonic() - started) * 1000)
        segment.save(update_fields=fields)
    return RefreshResult(segments=1, joined=joined, left=left)


def _in_dependency_order(segments: list[Segment]) -> list[Segment]:
    """Segments that name others after those others, so they read fresh memberships."""
    by_id = {s.pk: s for s in segments}
    ordered: list[Segment] = []
    placed: set[int] = set()

    def place(segment: Segment, path: frozenset[int]) -> None:
        if segment.pk in placed or segment.pk in path:
            return
        for pk in sorted(_named_segments(segment.definition)):
            if pk in by_id:
                place(by_id[pk], path | {segment.pk})
        placed.add(segment.pk)
        ordered.append(segment)

    for segment in segments:
        place(segment, frozenset())
    return ordered


def segments_refresh(
    *,
    now: datetime.datetime,
    full: bool = False,
    merchant_id: int | None = None,
    batch_size: int = 0,
) -> RefreshResult:
    """Refresh every active segment (of one merchant): incrementally, or in full. A
    segment never refreshed in full gets a full refresh either way."""
    segments = Segment.objects.filter(is_active=True).only("pk", "definition")
    if merchant_id is not None:
        segments = segments.filter(merchant_id=merchant_id)
    result = RefreshResult()
    for segment in _in_dependency_order(list(segments.order_by("pk"))):
        result.add(segment_refresh(segment_id=segment.pk, now=now, full=full))
    return result


def segments_refresh_full(
    *, now: datetime.datetime, merchant_id: int | None = None, batch_size: int = 0
) -> RefreshResult:
    """The nightly job: RFM scores first, then every active segment in full."""
    member_scores_compute(now=now, merchant_id=merchant_id)
    return segments_refresh(now=now, full=True, merchant_id=merchant_id)


# -- RFM ---------------------------------------------------------------------------------


@dataclass
class ScoreResult:
    merchants: int = 0
    members: int = 0

    def __str__(self) -> str:
        return f"{self.merchants} merchant(s), {self.members} member(s) scored"


def member_scores_compute(
    *, now: datetime.datetime, merchant_id: int | None = None, batch_size: int = 0
) -> ScoreResult:
    """Score every member who ordered in the last year, per merchant: recency (their
    last order), frequency (orders) and monetary (net spend) quintiles, 5 the best, ties
    broken by member id; members with no order in the year lose their score. One
    statement per merchant replaces the merchant's scores."""
    merchants = Merchant.objects.order_by("pk")
    if merchant_id is not None:
        merchants = merchants.filter(pk=merchant_id)
    result = ScoreResult()
    for merchant in merchants.only("pk"):
        orders = (
            Order.objects.filter(
                merchant=merchant,
                placed_at__gte=now - datetime.timedelta(days=RFM_DAYS),
                placed_at__lte=now,
            )
            .order_by()
            .values("member_id")
            .annotate(last=Max("placed_at"), n=Count("pk"), spent=Sum(NET_TOTAL))
            .annotate(
                r=Window(Ntile(5), order_by=[F("last").asc(), F("member_id").asc()]),
                f=Window(Ntile(5), order_by=[F("n").asc(), F("member_id").asc()]),
                m=Window(Ntile(5), order_by=[F("spent").asc(), F("member_id").asc()]),
            )
            .values("member_id", "r", "f", "m")
        )
        select, params = orders.query.sql_with_params()
        when = connection.ops.adapt_datetimefield_value(now)
        with transaction.atomic():
            # Two runs at once would each delete what the other has not committed yet and
            # insert the same members twice: they queue per merchant, and the second,
            # whose delete then sees the first's rows, replaces them.
            advisory_xact_lock("loyalty.member_scores", merchant.pk)
            MemberScore.objects.filter(merchant=merchant).delete()
            scored = _insert_select(
                MemberScore._meta.db_table,
                ["member_id", "merchant_id", "recency", "frequency", "monetary", "computed_at"],
                f"SELECT s.member_id, %s, s.r, s.f, s.m, %s FROM ({select}) s",
                [merchant.pk, when, *params],
            )
        result.merchants += 1
        result.members += scored
    return result


def segment_refresh_now(*, segment: Segment) -> RefreshResult:
    """Staff's "refresh now": a full refresh at once (no actor: moves name no one)."""
    return segment_refresh(segment_id=segment.pk, now=timezone.now(), full=True)
