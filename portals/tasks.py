from celery import shared_task
from django.utils import timezone

from core.jobs import job_result
from portals import snapshots


@shared_task(name="portals.refresh_report_snapshots", acks_late=True, soft_time_limit=240)
def refresh_report_snapshots() -> dict:
    result = snapshots.snapshots_refresh(now=timezone.now())
    return job_result(rows=result.computed + result.deleted, summary=result)


@shared_task(
    name="portals.make_member_exports", acks_late=True, soft_time_limit=3000, time_limit=3600
)
def make_member_exports() -> str:
    from portals import member_exports

    return member_exports.member_exports_make(now=timezone.now())


@shared_task(
    name="portals.send_member_signin_email",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def send_member_signin_email(
    merchant_id: int, email: str, next_path: str, language: str, nonce: str
) -> str:
    from portals.member_signin_email import signin_email_send

    sent = signin_email_send(
        merchant_id=merchant_id, email=email, next_path=next_path, language=language, nonce=nonce
    )
    return "sent" if sent else "nothing to send"
