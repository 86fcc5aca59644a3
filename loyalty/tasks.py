from celery import shared_task
from django.utils import timezone

from core.jobs import job_result
from loyalty import jobs
from loyalty.campaigns import services as campaigns
from loyalty.referrals import qualify
from loyalty.reports import aggregates
from loyalty.segments import services as segments


@shared_task(name="loyalty.release_pending_points", acks_late=True)
def release_pending_points() -> dict:
    result = jobs.release_pending_points(now=timezone.now())
    return job_result(rows=result.lots, summary=result)


@shared_task(name="loyalty.expire_points", acks_late=True)
def expire_points() -> dict:
    result = jobs.expire_points(now=timezone.now())
    return job_result(rows=result.lots, summary=result)


@shared_task(name="loyalty.recompute_tiers", acks_late=True)
def recompute_tiers() -> dict:
    result = jobs.recompute_tiers(now=timezone.now())
    return job_result(rows=result.changes, summary=result)


@shared_task(name="loyalty.report_aggregates_update", acks_late=True, soft_time_limit=50)
def report_aggregates_update() -> dict:
    result = aggregates.aggregates_update(now=timezone.now())
    return job_result(rows=result.buckets, summary=result)


@shared_task(name="loyalty.report_aggregates_reconcile", acks_late=True)
def report_aggregates_reconcile() -> dict:
    result = aggregates.aggregates_reconcile(now=timezone.now())
    return job_result(rows=result.buckets, summary=result)


@shared_task(name="loyalty.refresh_segments", acks_late=True, soft_time_limit=600, time_limit=720)
def refresh_segments() -> dict:
    result = segments.segments_refresh(now=timezone.now())
    return job_result(rows=result.joined + result.left, summary=result)


@shared_task(name="loyalty.refresh_segments_full", acks_late=True)
def refresh_segments_full() -> str:
    return str(segments.segments_refresh_full(now=timezone.now()))


@shared_task(name="loyalty.refresh_segment", acks_late=True)
def refresh_segment(segment_id: int) -> str:
    return str(segments.segment_refresh(segment_id=segment_id, now=timezone.now(), full=True))


@shared_task(name="loyalty.advance_campaigns", acks_late=True)
def advance_campaigns() -> str:
    return str(campaigns.campaigns_advance(now=timezone.now()))


@shared_task(name="loyalty.campaign_budget_spent", acks_late=True)
def campaign_budget_spent(campaign_id: int) -> str:
    return str(campaigns.campaign_budget_spent(campaign_id=campaign_id))


@shared_task(name="loyalty.announce_expiring_points", acks_late=True)
def announce_expiring_points() -> dict:
    from loyalty import events

    announced = events.announce_expiring_points(now=timezone.now())
    return job_result(rows=announced, summary=f"{announced} lot(s) announced")


@shared_task(name="loyalty.close_achievement_periods", acks_late=True)
def close_achievement_periods() -> dict:
    from loyalty.achievements import periods

    broke = periods.periods_close(now=timezone.now())
    return job_result(rows=broke, summary=f"{broke} streak(s) broke")


@shared_task(
    name="loyalty.send_expiry_warnings", acks_late=True, soft_time_limit=1500, time_limit=1800
)
def send_expiry_warnings() -> dict:
    from loyalty.messages import jobs as messages

    result = messages.expiry_warnings_send(now=timezone.now())
    return job_result(rows=result.sent + result.skipped + result.failed, summary=result)


@shared_task(name="loyalty.send_member_messages", acks_late=True, soft_time_limit=240)
def send_member_messages() -> dict:
    from loyalty.messages import jobs as messages

    result = messages.lifecycle_messages_send(now=timezone.now())
    return job_result(rows=result.sent + result.skipped + result.failed, summary=result)


# Each referral is settled in its own transaction: a run cut short leaves the rest to
# the next one.
@shared_task(name="loyalty.qualify_referrals", acks_late=True, soft_time_limit=600, time_limit=720)
def qualify_referrals() -> dict:
    result = qualify.referrals_qualify(now=timezone.now())
    return job_result(rows=result.qualified + result.voided, summary=result)
