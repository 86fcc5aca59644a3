"""The nightly members CSV: the job writes it, owners download it from the portal."""

import csv
import datetime
import io

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Segment, SegmentMembership, Tier
from loyalty.services.members import member_anonymise
from portals.member_exports import HEADER, member_exports_make
from portals.models import MemberExport
from tests.loyalty.factories import member_make, program_merchant
from tests.portals.factories import portal_user, signed_in

pytestmark = pytest.mark.django_db


def rows_of(export: MemberExport) -> list[dict]:
    text = export.file.open("rb").read().decode("utf-8-sig")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines).strip())))


def test_the_job_writes_every_member_with_balances_tier_segments_and_consent():
    merchant, program = program_merchant()
    gold = Tier.objects.create(program=program, name="Gold", threshold=0)
    ana = member_make(
        merchant, "ana", points=120, email="ana@example.com", marketing_consent=True, country="FR"
    )
    ana.tier = gold
    ana.save(update_fields=["tier"])
    member_make(merchant, "=cmd", first_name="=HYPERLINK(1)")
    vip = Segment.objects.create(merchant=merchant, name="VIP", definition={"groups": []})
    SegmentMembership.objects.create(segment=vip, member=ana, joined_at=timezone.now())
    gone = member_make(merchant, "gone", email="gone@example.com")
    member_anonymise(merchant=merchant, member=gone)

    assert member_exports_make(now=timezone.now()).startswith("1 export(s) made")
    export = MemberExport.objects.get(merchant=merchant)
    assert export.rows == 3
    rows = rows_of(export)
    assert list(rows[0]) == HEADER
    by_id = {row["External id"]: row for row in rows}
    assert by_id["ana"]["Points balance"] == "120"
    assert by_id["ana"]["Tier"] == "Gold"
    assert by_id["ana"]["Segments"] == "VIP"
    assert by_id["ana"]["Marketing consent"] == "yes"
    assert by_id["ana"]["Country"] == "FR"
    # Text a spreadsheet would run is defused; an anonymised member keeps no email.
    assert by_id["'=cmd"]["First name"] == "'=HYPERLINK(1)"
    assert by_id["gone"]["Email"] == ""
    assert by_id["gone"]["Status"] == "anonymised"


def test_the_job_makes_one_file_a_night_and_keeps_a_week():
    merchant, _ = program_merchant()
    member_make(merchant, "one")
    start = timezone.now()
    for night in range(10):
        with time_machine.travel(start + datetime.timedelta(days=night)):
            member_exports_make(now=timezone.now())
            assert member_exports_make(now=timezone.now()).startswith("0 export(s) made")
    kept = MemberExport.objects.filter(merchant=merchant)
    assert kept.count() == MemberExport.KEPT
    newest = (start + datetime.timedelta(days=9)).astimezone(merchant.timezone).date()
    assert kept.first().day == newest


def test_owners_list_and_download_their_files_only():
    merchant, _ = program_merchant()
    member_make(merchant, "one", email="one@example.com")
    other, _ = program_merchant()
    member_make(other, "theirs")
    member_exports_make(now=timezone.now())
    export = MemberExport.objects.get(merchant=merchant)
    owner = signed_in(portal_user(merchant, "owner"))
    page = owner.get(reverse("portals:member_exports"))
    assert page.status_code == 200
    assert reverse("portals:member_export", args=[export.public_id]) in page.content.decode()
    download = owner.get(reverse("portals:member_export", args=[export.public_id]))
    assert download.status_code == 200
    assert download["Cache-Control"] == "private, no-store"
    assert "attachment" in download["Content-Disposition"]
    assert b"one@example.com" in b"".join(download.streaming_content)
    theirs = MemberExport.objects.get(merchant=other)
    assert owner.get(reverse("portals:member_export", args=[theirs.public_id])).status_code == 404
    analyst = signed_in(portal_user(merchant, "analyst"))
    assert analyst.get(reverse("portals:member_export", args=[export.public_id])).status_code == 403
