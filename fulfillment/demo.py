"""Demo data for the development run: the members of each live demo merchant redeem
rewards over the last four months, so that the reports on rewards, points redeemed and
the redemption rate have something to show.

Each redemption is recorded at the time it happened (time-machine, like the loyalty
demo), by a member who had the points then, through ``redemption_create``; its supplier
order is then placed at a later time, as the dispatch task would (a few minutes on),
with the same dispatch function, against the demo's suppliers (the sandbox aggregator
and the code warehouse deliver at once; the charity, a manual supplier, is completed
by hand hours to two days later). One manual order per merchant is cancelled instead,
through the Fulfillment team's own service, so that its points go back. A redemption
whose supplier cannot deliver is refunded by dispatch, as it would be, and its reward is
not chosen again.

A member redeems only after their last ledger entry (their last order, refund or
release, or their previous redemption), so that their ledger reads in time order and
their balance then is the one they have; a member with nothing after that point in the
window redeems nothing.

A merchant that already has demo redemptions is left as it is, so running the seed again
adds nothing. The tasks the services queue when they commit (the dispatch of each
redemption, its delivery email) find the orders settled, and the emails go out when a
worker runs, as they would have.
"""

import datetime
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from catalog import denominations, selectors
from catalog import services as catalog_services
from catalog.models import MerchantCatalogItem
from core.actors import Actor
from core.exceptions import DomainError
from fulfillment.models import Redemption, RedemptionStatus, SupplierOrderStatus
from fulfillment.services.dispatch import process_due
from fulfillment.services.interventions import manual_order_deliver, redemption_cancel
from fulfillment.services.redemptions import RedemptionInput, redemption_create
from loyalty.models import LedgerEntry, Member, MemberStatus, Program
from loyalty.services.programs import program_get_active
from merchants.models import Merchant, MerchantStatus

DEMO = Actor.system("demo")
# The actor of the dispatch task a redemption's commit queues (``fulfillment.tasks``).
DISPATCH = Actor.system("dispatch_redemption")
EXTERNAL_ID = "{slug}-demo-rdm-{number:02d}"
WINDOW = datetime.timedelta(days=120)
TARGET = (15, 25)  # redemptions per merchant, at least and at most
# A member redeems a while after their last ledger entry: from this long ...
GAP_MIN = datetime.timedelta(hours=2)
# ... to this long (or to the end of the window, whichever comes first).
GAP_MAX = datetime.timedelta(days=21)
# Time left after a redemption for its supplier order to be settled before now.
SETTLE_ROOM = datetime.timedelta(hours=3)
# The dispatch task picks a new redemption up within seconds to minutes.
PLACED_AFTER = (datetime.timedelta(seconds=20), datetime.timedelta(minutes=15))
# A manual supplier's order is completed by hand within half an hour to two days.
COMPLETED_AFTER = (datetime.timedelta(minutes=30), datetime.timedelta(days=2))
EARLIEST = 3  # the next redemption is by one of the members who may redeem earliest
RANGE_STEPS = 4  # a range reward is redeemed at its minimum or a few steps above
CANCEL_REASON = "the member asked to cancel before the charity confirmed the donation"


@dataclass(frozen=True)
class Choice:
    item: MerchantCatalogItem
    value: Decimal


def seed(*, out: TextIO) -> None:
    merchants = Merchant.objects.filter(
        status=MerchantStatus.LIVE,
        pk__in=Program.objects.filter(is_active=True).values("merchant_id"),
    ).order_by("pk")
    made: Counter[str] = Counter()
    for merchant in merchants:
        prefix = EXTERNAL_ID.format(slug=merchant.slug, number=0)[:-2]
        if Redemption.objects.filter(merchant=merchant, external_id__startswith=prefix).exists():
            continue
        with transaction.atomic():
            made.update(_redemptions(merchant))
    if made:
        out.write(
            f"Demo redemptions: {made['made']} over the last four months "
            f"({made[RedemptionStatus.DELIVERED]} delivered, "
            f"{made[RedemptionStatus.REFUNDED] + made[RedemptionStatus.CANCELLED]} refunded "
            "or cancelled).\n"
        )


def _redemptions(merchant: Merchant) -> Counter[str]:
    """Redeem, dispatch and settle up to ``TARGET`` redemptions of ``merchant``'s members."""
    import time_machine

    rng = random.Random(f"demo-redemptions:{merchant.slug}")  # noqa: S311 (repeatable)
    program = program_get_active(merchant=merchant)
    now = timezone.now()
    window_start = now - WINDOW
    latest = now - SETTLE_ROOM
    last_entries = dict(
        LedgerEntry.objects.filter(merchant=merchant)
        .values("member_id")
        .annotate(last=Max("created_at"))
        .values_list("member_id", "last")
    )
    members = {
        member.pk: member
        for member in Member.objects.filter(merchant=merchant, status=MemberStatus.ACTIVE)
        .exclude(email="")
        .order_by("external_id")
    }
    # When each member may redeem next: after their last ledger entry, within the window.
    free_from = {
        pk: max(last_entries.get(pk, member.created_at), window_start)
        for pk, member in members.items()
    }
    target = rng.randint(*TARGET)
    done: Counter[str] = Counter()
    types: Counter[str] = Counter()
    rewards: Counter[int] = Counter()
    failed: set[int] = set()
    cancelled = False
    while done["made"] < target:
        ready = sorted(
            (pk for pk in members if free_from[pk] + GAP_MIN < latest), key=free_from.get
        )
        if not ready:
            break
        # One of those who may redeem earliest: the redemptions spread over the window.
        member = members[rng.choice(ready[:EARLIEST])]
        start = free_from[member.pk] + GAP_MIN
        when = start + (min(latest, start + GAP_MAX) - start) * rng.random()
        with time_machine.travel(when, tick=False):
            member.refresh_from_db()
            choice = _choose(rng, merchant, program, member, types, rewards, failed)
            if choice is None:
                del members[member.pk]
                continue
            external_id = EXTERNAL_ID.format(slug=merchant.slug, number=done["made"] + 1)
            try:
                redemption = redemption_create(
                    merchant=merchant,
                    data=RedemptionInput(
                        member_external_id=member.external_id,
                        reward_id=choice.item.reward_id,
                        value=choice.value,
                        recipient={"email": member.email},
                        external_id=external_id,
                    ),
                    actor=DEMO,
                ).obj
            except DomainError:
                del members[member.pk]
                continue
        done["made"] += 1
        types[choice.item.reward.type] += 1
        rewards[choice.item.reward_id] += 1
        cancel = not cancelled
        settled_at = _settle(rng, redemption, when, now, cancel=cancel)
        redemption.refresh_from_db()
        cancelled = cancelled or redemption.status == RedemptionStatus.CANCELLED
        done[redemption.status] += 1
        if redemption.status == RedemptionStatus.REFUNDED:
            failed.add(choice.item.reward_id)  # its supplier could not deliver it
        free_from[member.pk] = settled_at
    return done


def _choose(
    rng: random.Random,
    merchant: Merchant,
    program: Program,
    member: Member,
    types: Counter[str],
    rewards: Counter[int],
    failed: set[int],
) -> Choice | None:
    """A reward ``member`` can afford now, of the type (then the reward) redeemed least
    so far, delivered by email (the demo has no postal addresses) and not one whose
    supplier already failed to deliver it; None when nothing fits their balance."""
    affordable: list[Choice] = []
    items = selectors.catalog_for_member(merchant=merchant, member=member).select_related("reward")
    for item in items:
        if item.reward_id in failed or set(item.reward.recipient_fields) - {"email"}:
            continue
        for value in _values(item):
            points = catalog_services.unit_price(item=item, program=program, value=value)
            if points <= member.points_balance:
                affordable.append(Choice(item=item, value=value))
    if not affordable:
        return None

    def used(choice: Choice) -> tuple[int, int]:
        return types[choice.item.reward.type], rewards[choice.item.reward_id]

    fewest = min(map(used, affordable))
    return rng.choice([choice for choice in affordable if used(choice) == fewest])


def _values(item: MerchantCatalogItem) -> list[Decimal]:
    rule = denominations.of_reward(item.reward)
    if rule.kind == "fixed":
        return list(rule.values)
    assert rule.minimum is not None
    assert rule.maximum is not None
    assert rule.step is not None
    values = (rule.minimum + rule.step * n for n in range(RANGE_STEPS + 1))
    return [value for value in values if value <= rule.maximum]


def _settle(
    rng: random.Random,
    redemption: Redemption,
    created: datetime.datetime,
    now: datetime.datetime,
    *,
    cancel: bool,
) -> datetime.datetime:
    """Place the redemption's supplier order as the dispatch task would, a little after
    it was made; complete a manual supplier's order by hand later (or, with ``cancel``,
    cancel the redemption). Returns when the redemption was settled."""
    import time_machine

    placed_at = created + _between(rng, *PLACED_AFTER)
    with time_machine.travel(placed_at, tick=False):
        process_due(now=placed_at, redemption_id=redemption.pk, actor=DISPATCH)
    order = (
        redemption.supplier_orders.filter(status=SupplierOrderStatus.SUBMITTED)
        .order_by("-attempt")
        .first()
    )
    if order is None:
        return placed_at
    # A manual supplier: the order waits for the Fulfillment team.
    low, high = COMPLETED_AFTER
    done_at = min(placed_at + _between(rng, low, high), now - datetime.timedelta(minutes=1))
    with time_machine.travel(done_at, tick=False):
        if cancel:
            redemption_cancel(redemption=redemption, reason=CANCEL_REASON, actor=DEMO)
        else:
            manual_order_deliver(
                supplier_order=order,
                codes=[
                    {"code": f"RECEIPT-{redemption.public_id.hex[:10].upper()}-{unit}"}
                    for unit in range(1, redemption.quantity + 1)
                ],
                tracking=None,
                actor=DEMO,
            )
    return done_at


def _between(
    rng: random.Random, low: datetime.timedelta, high: datetime.timedelta
) -> datetime.timedelta:
    return low + (high - low) * rng.random()
