"""Reissue: a delivered reward that does not work (a dead code, the wrong card) is voided
and ordered again, at no cost in points to the member.

The ledger stays the one record of points: the original's spend is given back to the
very lots it came from (a ``redemption_refund`` entry naming the voided redemption, so
expiry dates and lifetime points stay as they were) and the new redemption spends them
again, so the balance does not move. If the new order fails for good, the usual refund
gives those points back, which is what the member is owed for a reward that never
worked. The
new delivery posts its own usage record, so the second purchase's cost is billed like
the first; the voided redemption keeps its event (who, when, why, which replaced it).
A redemption is reissued at most once (a unique constraint), so a double click orders
once; a reissue can itself be reissued.
"""

from django.db import transaction
from django.utils import timezone

from core.actors import Actor, actor_label, actor_user
from core.exceptions import InvalidTransition, ReasonRequired
from fulfillment.exceptions import OutOfStock
from fulfillment.models import Redemption, RedemptionStatus
from fulfillment.services.redemptions import first_order_write, stock_reserve, supplier_order_key
from fulfillment.services.transitions import redemption_created_record, redemption_event_record
from loyalty import ledger, locks
from loyalty.models import LedgerEntry


class AlreadyReissued(InvalidTransition):
    code = "already_reissued"
    title = "This redemption was reissued already."


def redemption_may_reissue(*, redemption: Redemption) -> bool:
    """Whether ``redemption`` may be reissued: delivered, and not reissued already (a
    reissue voids it)."""
    return redemption.status == RedemptionStatus.DELIVERED and redemption.voided_at is None


def redemption_reissue(*, redemption: Redemption, reason: str, actor: Actor) -> Redemption:
    """Void the delivered ``redemption`` and order the same reward again for the member,
    to the same delivery details; returns the new redemption (queued for dispatch)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the reward is reissued.", field="reason")
    now = timezone.now()
    with transaction.atomic():
        original = (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("reward", "member")
            .get(pk=redemption.pk)
        )
        if not redemption_may_reissue(redemption=original):
            if original.status != RedemptionStatus.DELIVERED:
                raise InvalidTransition("Only a delivered reward can be reissued.", field="status")
            raise AlreadyReissued()
        if Redemption.objects.filter(reissue_of=original).exists():
            raise AlreadyReissued()
        member = locks.member_lock(original.member_id)
        new = Redemption(
            merchant_id=original.merchant_id,
            member=member,
            request_hash=original.request_hash,
            reward=original.reward,
            catalog_item_id=original.catalog_item_id,
            country=original.country,
            face_value=original.face_value,
            face_currency=original.face_currency,
            quantity=original.quantity,
            points_each=original.points_each,
            points_total=original.points_total,
            program_currency=original.program_currency,
            point_value=original.point_value,
            rate_used=original.rate_used,
            exchange_rate_id=original.exchange_rate_id,
            recipient=original.recipient,
            reissue_of=original,
        )
        ledger.points_refund_spend(
            spend_entry=original.spend_entry,
            reason=f"Reissue of redemption {original.public_id}",
            at=now,
            source_ref=str(original.public_id),
            actor=actor,
        )
        new.spend_entry = ledger.points_spend(
            member=member,
            points=original.points_total,
            at=now,
            source_type=LedgerEntry.Source.REDEMPTION,
            source_ref=str(new.public_id),
            reason=f"Reissue of {original.public_id}",
            actor=actor,
        )
        reservation = stock_reserve(
            reward=original.reward,
            country=str(original.country),
            value=original.face_value,
            quantity=original.quantity,
            reserved_for=supplier_order_key(redemption=new, attempt=1),
            now=now,
        )
        if reservation is None:
            raise OutOfStock("No supplier can deliver it again now.", field="quantity")
        new.save(force_insert=True)
        Redemption.objects.filter(pk=original.pk).update(voided_at=now, updated_at=now)
        source = "staff" if actor_user(actor) else "system"
        redemption_event_record(
            redemption=original,
            field="reissue",
            from_value=RedemptionStatus.DELIVERED,
            to_value="voided",
            source=source,
            note=f"reissued as {new.public_id} by {actor_label(actor)}: {reason}",
            actor=actor,
        )
        redemption_created_record(
            redemption=new, note=f"reissue of {original.public_id}", source=source, actor=actor
        )
        first_order_write(redemption=new, reservation=reservation, now=now)
    return new
