"""The nightly members CSV: one file a merchant a night, made by a job, kept a week, and
downloaded by the merchant's owners from the portal (it holds personal data)."""

import datetime
import tempfile

from django.core.files import File
from django.db import IntegrityError, transaction

from core.jobs import progress
from loyalty.selectors import member_export_rows
from merchants.models import Merchant, MerchantStatus
from portals.exports import BOM, csv_write
from portals.models import MemberExport

HEADER = [
    "External id",
    "Email",
    "First name",
    "Last name",
    "Country",
    "Locale",
    "Status",
    "Marketing consent",
    "Tier",
    "Points balance",
    "Pending points",
    "Lifetime points",
    "Segments",
    "Joined",
    "Last activity",
]
DEFINITIONS = [
    ("Points balance", "spendable now"),
    ("Pending points", "earned, waiting out the return window"),
    ("Lifetime points", "every point ever earned, spent or not"),
    ("Segments", "the segments the member is in when the file was made, separated by ;"),
    ("Times", "ISO 8601, UTC"),
]


def member_export_make(*, merchant: Merchant, now: datetime.datetime) -> MemberExport | None:
    """Make the merchant's export for today (its local day); None when it exists."""
    day = now.astimezone(merchant.timezone).date()
    if MemberExport.objects.filter(merchant=merchant, day=day).exists():
        return None
    count = 0

    def counted():
        nonlocal count
        for row in member_export_rows(merchant=merchant):
            count += 1
            yield row

    with tempfile.TemporaryFile("w+b") as raw:
        with open(raw.fileno(), "w", encoding="utf-8", newline="", closefd=False) as text:
            text.write(BOM)
            csv_write(text, definitions=DEFINITIONS, header=HEADER, rows=counted())
        size = raw.seek(0, 2)
        raw.seek(0)
        export = MemberExport(merchant=merchant, day=day, made_at=now, rows=count, size=size)
        try:
            with transaction.atomic():
                export.file.save(f"{export.public_id}.csv", File(raw), save=False)
                export.save()
        except IntegrityError:  # made meanwhile by another worker
            export.file.delete(save=False)
            return None
    return export


def member_exports_make(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> str:
    """The nightly job: today's export for every live merchant that lacks one, and the
    exports older than a week removed, files included."""
    merchants = Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("pk")
    if merchant_id is not None:
        merchants = merchants.filter(pk=merchant_id)
    # An export is a whole merchant's members: the job's run counts merchants done.
    due = list(merchants[:batch_size])
    made = 0
    for done, merchant in enumerate(due):
        progress(done, len(due))
        made += member_export_make(merchant=merchant, now=now) is not None
    progress(len(due), len(due))
    removed = 0
    for merchant_pk in MemberExport.objects.values_list("merchant_id", flat=True).distinct():
        for old in MemberExport.objects.filter(merchant_id=merchant_pk)[MemberExport.KEPT :]:
            # Another run may remove the same one meanwhile: only the run whose DELETE
            # took the row counts it and removes its file.
            if MemberExport.objects.filter(pk=old.pk).delete()[0]:
                old.file.delete(save=False)
                removed += 1
    return f"{made} export(s) made, {removed} removed"
