"""Ops staff's loyalty admin through the test client: programs, the unified member view,
adjusting points, anonymising, member import and export, exchange rates."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM, Actor
from loyalty.admin import MemberAdmin
from loyalty.exceptions import MemberNotActive
from loyalty.models import ExchangeRate, LedgerEntry, Member, Program
from loyalty.services import members, orders, programs, refunds
from merchants.models import ChecklistItem
from merchants.selectors import checklist_missing
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    merchant = MerchantFactory(live=True, slug="acme")
    programs.program_configure(
        merchant=merchant,
        actor=SYSTEM,
        name="Acme Rewards",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=0,
    )
    return merchant


def record_order(merchant, member_id: str, external_id: str, total: str):
    return orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id=external_id,
            member_external_id=member_id,
            total=Decimal(total),
            currency="USD",
            placed_at=timezone.now(),
            member_fields={"email": f"{member_id}@example.com", "first_name": "Ana"},
        ),
        actor=Actor.system("test"),
    ).obj


def test_member_changelist_is_fast_and_searchable(
    admin_client, merchant, django_assert_max_num_queries
):
    for n in range(15):
        record_order(merchant, f"m{n}", f"o{n}", "10")
    url = reverse("admin:loyalty_member_changelist")
    admin_client.get(url)
    with django_assert_max_num_queries(8):
        response = admin_client.get(url)
    assert response.status_code == 200
    # Shown once (its title on hover repeats it in the same cell).
    assert response.content.count(b">m1@example.com<") == 1
    found = admin_client.get(url, {"q": "m7"})
    assert b"m7" in found.content
    assert b"m8@example.com" not in found.content


def test_member_page_is_the_unified_customer_view(
    admin_client, merchant, django_assert_max_num_queries
):
    order = record_order(merchant, "m1", "o-42", "120")
    member = order.member
    url = reverse("admin:loyalty_member_change", args=[member.pk])
    admin_client.get(url)  # the sidebar's badges are counted once a minute, not per page
    # The form, the summary (balances, lots, tier progress) and one capped count for each
    # list of related records it links to (core.admin.related): a fixed number whatever
    # the member holds.
    with django_assert_max_num_queries(20 + len(MemberAdmin.related) + 1):
        response = admin_client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    for text in ("m1@example.com", "Spendable", "120", "?tab=points", "?tab=orders"):
        assert text in content, text
    points = admin_client.get(url, {"tab": "points"}).content.decode()
    for text in ("+120", "for order o-42", "The whole ledger"):
        assert text in points, text


def test_adjust_points_action_asks_for_points_and_reason_then_writes_the_ledger(
    admin_client, merchant, admin_user
):
    member = record_order(merchant, "m1", "o1", "100").member
    changelist = reverse("admin:loyalty_member_changelist")
    asked = admin_client.post(
        changelist, {"action": "adjust_points", "_selected_action": [member.pk]}
    )
    assert b"Adjust points" in asked.content
    assert LedgerEntry.objects.filter(member=member).count() == 1

    admin_client.post(
        changelist,
        {
            "action": "adjust_points",
            "_selected_action": [member.pk],
            "apply": "1",
            "points": "-40",
            "reason": "goodwill correction",
        },
    )
    member.refresh_from_db()
    assert member.points_balance == 60
    entry = LedgerEntry.objects.filter(member=member, kind="adjust").get()
    assert (entry.points, entry.reason, entry.actor) == (-40, "goodwill correction", admin_user)

    response = admin_client.post(
        changelist,
        {
            "action": "adjust_points",
            "_selected_action": [member.pk],
            "apply": "1",
            "points": "-1000",
            "reason": "too much",
        },
        follow=True,
    )
    assert b"has 60 points" in response.content
    member.refresh_from_db()
    assert member.points_balance == 60


@pytest.mark.parametrize(("points", "reason"), [("0", "x"), ("5", ""), ("abc", "x")])
def test_adjust_points_refuses_bad_input(admin_client, merchant, points, reason):
    member = record_order(merchant, "m1", "o1", "100").member
    admin_client.post(
        reverse("admin:loyalty_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [member.pk],
            "apply": "1",
            "points": points,
            "reason": reason,
        },
    )
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_anonymise_erases_personal_data_and_keeps_the_ledger(admin_client, merchant):
    member = record_order(merchant, "m1", "o1", "100").member
    admin_client.post(
        reverse("admin:loyalty_member_changelist"),
        {"action": "anonymise", "_selected_action": [member.pk], "apply": "1", "confirm": "on"},
    )
    member.refresh_from_db()
    assert (member.email, member.first_name, member.status) == ("", "", "anonymised")
    assert member.points_balance == 100
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_program_saved_in_the_admin_ticks_the_checklist(admin_client):
    merchant = MerchantFactory(slug="fresh")
    response = admin_client.post(
        reverse("admin:loyalty_program_add"),
        {
            "merchant": merchant.pk,
            "name": "Fresh Rewards",
            "points_name": "Leaves",
            "is_active": "on",
            "currency": "USD",
            "point_value": "0.01",
            "base_earn_rate": "2",
            "rounding": "down",
            "pending_days": "30",
            "expiry_policy": "never",
            "expiry_months": "",
            "tier_basis": "points",
            "tier_window_months": "12",
            **{
                f"{prefix}-{key}": value
                for prefix in ("tiers", "rules")
                for key, value in (
                    ("TOTAL_FORMS", "0"),
                    ("INITIAL_FORMS", "0"),
                    ("MIN_NUM_FORMS", "0"),
                    ("MAX_NUM_FORMS", "1000"),
                )
            },
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Program.objects.get(merchant=merchant).points_name == "Leaves"
    assert ChecklistItem.PROGRAM_CONFIGURED not in checklist_missing(merchant=merchant)


def test_program_with_expiry_but_no_months_is_refused_in_the_admin(admin_client):
    merchant = MerchantFactory(slug="fresh")
    response = admin_client.post(
        reverse("admin:loyalty_program_add"),
        {
            "merchant": merchant.pk,
            "name": "Fresh",
            "points_name": "Leaves",
            "currency": "USD",
            "point_value": "0.01",
            "base_earn_rate": "1",
            "rounding": "down",
            "pending_days": "30",
            "expiry_policy": "lot_age",
            "tier_basis": "points",
            "tier_window_months": "12",
            **{
                f"{prefix}-{key}": value
                for prefix in ("tiers", "rules")
                for key, value in (
                    ("TOTAL_FORMS", "0"),
                    ("INITIAL_FORMS", "0"),
                    ("MIN_NUM_FORMS", "0"),
                    ("MAX_NUM_FORMS", "1000"),
                )
            },
        },
    )
    assert response.status_code == 200
    assert not Program.objects.filter(merchant=merchant).exists()


def _import(admin_client, url_name: str, csv: str):
    """Upload a CSV to an import page; returns the preview page."""
    return admin_client.post(
        reverse(url_name),
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("members.csv", csv.encode(), "text/csv"),
        },
    )


def _confirm(admin_client, url_name: str, preview):
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', preview.content.decode()))
    return admin_client.post(
        reverse(url_name),
        {
            key: fields[key]
            for key in ("import_file_name", "original_file_name", "format", "resource")
        },
        follow=True,
    )


def test_member_import_previews_then_creates_and_updates_by_external_id(admin_client, merchant):
    record_order(merchant, "m1", "o1", "100")
    csv = (
        "merchant,external_id,email,first_name,last_name,country,points_balance\n"
        "acme,m1,new@example.com,Ana,Costa,US,999999\n"
        "acme,m2,m2@example.com,Ben,Ito,FR,5\n"
    )
    preview = _import(admin_client, "admin:loyalty_member_import", csv)
    assert preview.status_code == 200
    assert b"Preview" in preview.content or b"preview" in preview.content
    assert Member.objects.filter(merchant=merchant).count() == 1  # dry run

    done = _confirm(admin_client, "admin:loyalty_member_process_import", preview)
    assert done.status_code == 200
    m1 = Member.objects.get(merchant=merchant, external_id="m1")
    assert m1.email == "new@example.com"
    assert m1.points_balance == 100  # balances are never imported
    assert Member.objects.get(merchant=merchant, external_id="m2").country.code == "FR"


def test_member_import_reports_errors_per_row_and_imports_nothing(admin_client, merchant):
    csv = (
        "merchant,external_id,email,country\n"
        "acme,ok-1,ok@example.com,US\n"
        "acme,bad-1,not-an-email,US\n"
        "nobody,bad-2,x@example.com,US\n"
    )
    preview = _import(admin_client, "admin:loyalty_member_import", csv)
    content = preview.content.decode()
    assert "not-an-email" in content or "valid email" in content
    assert "nobody" in content
    assert 'name="import_file_name"' not in content  # nothing to confirm
    assert not Member.objects.filter(external_id__in=["ok-1", "bad-1", "bad-2"]).exists()


def test_member_export_has_balances(admin_client, merchant):
    record_order(merchant, "m1", "o1", "100")
    response = admin_client.post(
        reverse("admin:loyalty_member_export"),
        {
            "format": "0",
            "resource": "0",
            **{
                f"memberresource_{f}": "on"
                for f in ("merchant", "external_id", "email", "points_balance")
            },
        },
    )
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    assert "acme,m1,m1@example.com,100" in body.replace("\r", "")


def test_exchange_rates_import_from_csv(admin_client):
    csv = "base,quote,rate,source,as_of\nEUR,USD,1.0850000000,ecb,2026-11-01 00:00:00\n"
    preview = _import(admin_client, "admin:loyalty_exchangerate_import", csv)
    _confirm(admin_client, "admin:loyalty_exchangerate_process_import", preview)
    rate = ExchangeRate.objects.get(base="EUR", quote="USD")
    assert rate.rate == Decimal("1.085")
    assert rate.as_of.date() == datetime.date(2026, 11, 1)


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:loyalty_program_changelist",
        "admin:loyalty_ledgerentry_changelist",
        "admin:loyalty_order_changelist",
        "admin:loyalty_refund_changelist",
        "admin:loyalty_activity_changelist",
        "admin:loyalty_exchangerate_changelist",
    ],
)
def test_loyalty_lists_render(admin_client, merchant, url_name):
    record_order(merchant, "m1", "o1", "100")
    assert admin_client.get(reverse(url_name)).status_code == 200


def test_order_page_shows_lines_and_refunds_read_only(admin_client, merchant):
    order = record_order(merchant, "m1", "o1", "100")
    refunds.refund_record(
        merchant=merchant,
        order_external_id="o1",
        data=refunds.RefundInput("r1", Decimal("10")),
        actor=Actor.system("test"),
    )
    response = admin_client.get(reverse("admin:loyalty_order_change", args=[order.pk]))
    assert response.status_code == 200
    assert b"r1" in response.content
    assert b'name="_save"' not in response.content


@pytest.mark.parametrize(
    ("permissions", "can_import", "can_export"),
    [
        (["view_member"], False, False),
        (["view_member", "change_member"], False, False),
        (["view_member", "add_member", "change_member"], True, False),
        (["view_member", "export_member"], False, True),
    ],
)
def test_importing_members_needs_the_rights_to_add_and_change_them_exporting_its_own(
    client, db, permissions, can_import, can_export
):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="loyalty", codename__in=permissions)
    )
    client.force_login(user)
    imported = client.get(reverse("admin:loyalty_member_import"))
    exported = client.get(reverse("admin:loyalty_member_export"))
    assert (imported.status_code == 200) is can_import
    assert (exported.status_code == 200) is can_export
    assert imported.status_code in (200, 403)


def test_a_rate_added_in_the_admin_is_stored_by_the_service_and_reprices_after_commit(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:loyalty_exchangerate_add"),
            {
                "base": "EUR",
                "quote": "USD",
                "rate": "1.0850000000",
                "source": "manual",
                "as_of_0": "2026-11-01",
                "as_of_1": "00:00:00",
            },
        )
    assert response.status_code == 302, response.content[:500]
    rate = ExchangeRate.objects.get(base="EUR", quote="USD")
    assert rate.rate == Decimal("1.085")
    assert len(callbacks) == 1  # the catalog's repricing of EUR and USD items

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(
            reverse("admin:loyalty_exchangerate_delete", args=[rate.pk]), {"post": "yes"}
        )
    assert not ExchangeRate.objects.filter(pk=rate.pk).exists()
    assert len(callbacks) == 1


def test_a_member_is_anonymised_only_once_the_service_says_so(merchant):
    member = record_order(merchant, "m1", "o1", "100").member
    assert not members.member_is_anonymised(member=member)
    member = members.member_anonymise(merchant=merchant, member=member)
    assert members.member_is_anonymised(member=member)
    with pytest.raises(MemberNotActive):
        members.member_upsert(merchant=merchant, external_id="m1", fields={"first_name": "Ana"})


def test_the_anonymise_action_passes_over_a_member_already_anonymised(admin_client, merchant):
    member = record_order(merchant, "m1", "o1", "100").member
    members.member_anonymise(merchant=merchant, member=member)
    erased_at = Member.objects.get(pk=member.pk).anonymised_at
    response = admin_client.post(
        reverse("admin:loyalty_member_changelist"),
        {"action": "anonymise", "_selected_action": [member.pk], "apply": "1", "confirm": "on"},
        follow=True,
    )
    assert "0 member(s) anonymised." in response.content.decode()
    assert Member.objects.get(pk=member.pk).anonymised_at == erased_at
