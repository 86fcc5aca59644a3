"""Download my data: a member asks from the portal, a task makes the archive and emails
its link, the portal serves it to that member only, and a daily job deletes it a week on.

- **One request a member a day.** Making an archive reads the member's whole history, so
  a member asks at most once in ``EXPORT_INTERVAL`` (a request that failed does not
  count); asking sooner raises ``DataExportTooSoon`` with the time they may ask again,
  and writes nothing. The member's row is locked while the check and the insert run, so
  two clicks at once make one row; the database holds one open request too (a partial
  unique index). A request is a row first (``requested``), the task second.
- **The task is idempotent.** It locks the row, makes the archive only while the row is
  ``requested``, and emails only while ``emailed_at`` is empty: run twice, or by two
  workers at once, it makes one archive and sends one email. A failure to make the
  archive marks the row ``failed`` (the member may ask again); a failure to send leaves it
  ``ready`` and unsent, and the care sweep sends it later.
- **The file is personal data.** It sits in the care files' private storage (shared by
  every web host like the ticket attachments, never under ``MEDIA_URL``) under a random
  name, and is deleted when it expires or when the member is anonymised."""

import datetime
import logging
import math
import tempfile

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor
from customercare import enqueue, locks
from customercare.exceptions import DataExportTooSoon, PrivacyRequestRefused
from customercare.member_data import member_data_export
from customercare.member_data_archive import archive_write
from customercare.models import DataExportStatus, MemberDataExport
from customercare.privacy_emails import data_ready_email
from loyalty.locks import member_lock_of
from loyalty.models import Member
from loyalty.services.members import member_is_anonymised

logger = logging.getLogger(__name__)
# A request still ``requested`` this long after it was made lost its task: the sweep
# starts it again.
STALE_AFTER = datetime.timedelta(minutes=10)
# How often a member may ask for their data.
EXPORT_INTERVAL = datetime.timedelta(hours=24)


def member_data_request_refusal(*, member: Member) -> str:
    """Why the member may not ask for their data now; empty when they may."""
    if member_is_anonymised(member=member):
        return "The member's data was erased."
    if not member.email:
        return "The member has no email address to send the link to."
    return ""


def member_data_request_next_at(*, member: Member) -> datetime.datetime | None:
    """When the member may ask for their data again; None when they may now."""
    now = timezone.now()
    last = (
        MemberDataExport.objects.filter(
            merchant_id=member.merchant_id, member=member, created_at__gt=now - EXPORT_INTERVAL
        )
        .exclude(status=DataExportStatus.FAILED)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if last is None else last + EXPORT_INTERVAL


def _too_soon(next_at: datetime.datetime) -> DataExportTooSoon:
    wait = math.ceil((next_at - timezone.now()).total_seconds())
    return DataExportTooSoon(
        f"The member asked for their data less than 24 hours ago; they may ask again "
        f"from {next_at.isoformat()}.",
        available_at=next_at,
        retry_after=max(wait, 1),
    )


def member_data_request(*, member: Member, actor: Actor) -> MemberDataExport:
    """Ask for the member's data archive, at most once in ``EXPORT_INTERVAL``
    (``DataExportTooSoon`` otherwise, and nothing written)."""
    refusal = member_data_request_refusal(member=member)
    if refusal:
        raise PrivacyRequestRefused(refusal)
    merchant = member.merchant
    try:
        with transaction.atomic():
            # One member's requests queue here, so the check below sees the one before.
            member_lock_of(merchant=merchant, member_id=member.pk)
            next_at = member_data_request_next_at(member=member)
            if next_at is not None:
                raise _too_soon(next_at)
            export = MemberDataExport.objects.create(
                merchant=merchant, member=member, source=actor.kind
            )
            enqueue.member_data_export_make(export_id=export.pk)
    except IntegrityError:  # an open request written past the lock: that one stands
        next_at = member_data_request_next_at(member=member)
        raise _too_soon(next_at or timezone.now() + EXPORT_INTERVAL) from None
    return export


def _archive_make(export: MemberDataExport, now: datetime.datetime) -> None:
    with tempfile.TemporaryFile("w+b") as raw:
        archive_write(raw, member_data_export(member=export.member))
        size = raw.seek(0, 2)
        raw.seek(0)
        export.file.save(f"{export.token}.zip", File(raw), save=False)
    export.status = DataExportStatus.READY
    export.size = size
    export.ready_at = now
    export.expires_at = now + datetime.timedelta(days=MemberDataExport.KEPT_DAYS)
    export.save(update_fields=["file", "status", "size", "ready_at", "expires_at"])


def member_data_export_make(*, export_id: int, now: datetime.datetime | None = None) -> str:
    """The task's work: make the archive if it is not made, then email its link if it was
    not sent. Returns what this call did, in words."""
    now = now or timezone.now()
    made = False
    with transaction.atomic():
        export = locks.member_data_export_lock(pk=export_id)
        if export is None:
            return "no such request"
        if export.status == DataExportStatus.REQUESTED:
            made = True
            try:
                with transaction.atomic():
                    _archive_make(export, now)
            except Exception as exc:
                logger.exception("member data archive %s not made", export.pk)
                if export.file:
                    export.file.delete(save=False)
                MemberDataExport.objects.filter(pk=export.pk).update(
                    status=DataExportStatus.FAILED, error=repr(exc)[:300], file=""
                )
                return "failed"
        elif export.status != DataExportStatus.READY:
            return str(export.status)  # expired, or failed before
    sent = member_data_email_send(export_id=export_id)
    return f"{'made' if made else 'made before'}, {'sent' if sent else 'not sent'}"


def member_data_email_send(*, export_id: int) -> bool:
    """Email the link of a ready archive once; True when this call sent it."""
    with transaction.atomic():
        export = locks.member_data_export_lock(pk=export_id)
        if (
            export is None
            or export.status != DataExportStatus.READY
            or export.emailed_at is not None
            or not export.member.email
        ):
            return False
        try:
            data_ready_email(export).send()
        except Exception as exc:  # the sweep sends it later
            MemberDataExport.objects.filter(pk=export.pk).update(error=repr(exc)[:300])
            logger.warning("member data email %s not sent: %r", export.pk, exc)
            return False
        MemberDataExport.objects.filter(pk=export.pk).update(emailed_at=timezone.now(), error="")
    return True


def member_data_exports_unfinished(*, now: datetime.datetime, limit: int = 200) -> list[int]:
    """Requests whose task was lost: still being made long after they were asked for,
    or ready and not yet emailed."""
    stale = MemberDataExport.objects.filter(
        status=DataExportStatus.REQUESTED, created_at__lte=now - STALE_AFTER
    )
    unsent = MemberDataExport.objects.filter(
        status=DataExportStatus.READY, emailed_at__isnull=True, expires_at__gt=now
    )
    return list((stale | unsent).order_by("pk").values_list("pk", flat=True)[:limit])


def member_data_export_get(*, member: Member, token: str) -> MemberDataExport | None:
    """The member's ready, unexpired archive of that token; None for anything else (another
    member's, another merchant's, expired), so a caller answers each the same way."""
    return (
        MemberDataExport.objects.filter(
            merchant_id=member.merchant_id,
            member=member,
            token=token,
            status=DataExportStatus.READY,
            expires_at__gt=timezone.now(),
        )
        .select_related("merchant")
        .first()
    )


def member_data_export_latest(*, member: Member) -> MemberDataExport | None:
    """The member's latest request still being made or ready to download, if any."""
    return (
        MemberDataExport.objects.filter(
            merchant_id=member.merchant_id,
            member=member,
            status__in=[DataExportStatus.REQUESTED, DataExportStatus.READY],
        )
        .exclude(status=DataExportStatus.READY, expires_at__lte=timezone.now())
        .order_by("-pk")
        .first()
    )


def _file_delete(export: MemberDataExport) -> None:
    if export.file:
        export.file.storage.delete(export.file.name)


def member_data_exports_expire(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> str:
    """The daily job: delete the archives past their week, a batch a transaction."""
    removed = 0
    while True:
        with transaction.atomic():
            claimed = locks.member_data_exports_expired_claim(
                now=now, batch_size=batch_size, merchant_id=merchant_id
            )
            for export in claimed:
                _file_delete(export)
            MemberDataExport.objects.filter(pk__in=[e.pk for e in claimed]).update(
                status=DataExportStatus.EXPIRED, file=""
            )
        removed += len(claimed)
        if len(claimed) < batch_size:
            return f"{removed} member data archive(s) deleted"


def member_data_exports_erase(*, member: Member) -> int:
    """The member's archives deleted now (their data is being erased): the files go once
    the caller's transaction commits."""
    exports = list(
        MemberDataExport.objects.select_for_update()
        .filter(member=member, status__in=[DataExportStatus.READY, DataExportStatus.REQUESTED])
        .order_by("pk")
    )
    names = [export.file.name for export in exports if export.file]
    MemberDataExport.objects.filter(pk__in=[e.pk for e in exports]).update(
        status=DataExportStatus.EXPIRED, file=""
    )
    if names:
        storage = MemberDataExport._meta.get_field("file").storage

        def delete_files() -> None:
            for name in names:
                storage.delete(name)

        transaction.on_commit(delete_files)
    return len(exports)
