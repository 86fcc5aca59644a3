"""The campaign pages: a marketer sets a campaign's terms on the form (dates typed as the
merchant's wall clock, targets among the merchant's segments, the coupon pool), moves it
along with a reason, reads its report as a page and as CSV; the order simulator on a
program's page; each by the staff allowed to, and nobody else."""

import csv
import datetime
import io
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from loyalty.models import (
    Campaign,
    CampaignAward,
    CampaignCoupon,
    CampaignEvent,
    CampaignStatus,
    LedgerEntry,
    Member,
    Order,
    Tier,
)
from loyalty.rules import HOLDOUT_BUCKETS, holdout_bucket
from tests.loyalty.campaigns.helpers import campaign_make, segment_with, spent
from tests.loyalty.factories import member_make, order_post, program_merchant
from tests.merchants.factories import StaffFactory, staff_in

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
ADD = reverse("admin:loyalty_campaign_add")
CHANGELIST = reverse("admin:loyalty_campaign_changelist")


@pytest.fixture
def shop(db):
    """A New York merchant with its program, a segment, and another merchant with its
    own segment and member."""
    merchant, program = program_merchant()
    merchant.timezone = NEW_YORK
    merchant.save(update_fields=["timezone"])
    fans = segment_with(merchant, member_make(merchant, "fan-1"), name="Fans")
    other, other_program = program_merchant()
    elsewhere = segment_with(other, member_make(other, "vip-1"), name="Elsewhere fans")
    return merchant, program, fans, other_program, elsewhere


def terms(program, **overrides) -> dict:
    """The campaign form's POST: an x2 campaign from 31 October to 2 November 2026, 9:00
    each day on the merchant's wall clock (the clocks go back on 1 November)."""
    data = {
        "program": str(program.pk),
        "name": "Autumn double",
        "description": "",
        "holdout_percent": "0",
        "starts_at_0": "2026-10-31",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-11-02",
        "ends_at_1": "09:00:00",
        "priority": "100",
        "stacking": "stackable",
        "effect": "multiplier",
        "multiplier": "2",
        "points_per_unit": "",
        "bonus_points": "",
        "min_order_total": "",
        "activity_kind": "",
        "include_skus": "",
        "include_categories": "",
        "points_budget": "",
        "cap_period": "none",
        "cap_count": "1",
        "add_codes": "",
        "_save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def change_url(campaign) -> str:
    return reverse("admin:loyalty_campaign_change", args=[campaign.pk])


def move_url(campaign, status: str) -> str:
    return reverse("admin:loyalty_campaign_move", args=[campaign.pk, status])


def change_post(client, campaign, **overrides):
    """POST the change form with ``overrides`` over the terms (the read-only status
    history inline's management form included)."""
    page = client.get(change_url(campaign))
    data = terms(campaign.program, **overrides)
    del data["program"]  # read-only once saved
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return client.post(change_url(campaign), data)


def moves(page) -> list[tuple[str, str]]:
    """The move links of a campaign page: (to status, label), whatever the theme puts
    around the link's text."""
    return re.findall(
        r'href="/admin/loyalty/campaign/\d+/move/(\w+)/"[^>]*>\s*([^<]*?)\s*</a>', page.text
    )


def shown(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def marketer(client):
    user = staff_in("Marketing")
    client.force_login(user)
    return user


# -- the form ----------------------------------------------------------------------------


def test_a_marketer_adds_a_campaign_in_the_merchants_time_across_the_clock_change(client, shop):
    _, program, fans, _, _ = shop
    user = marketer(client)
    assert client.get(ADD).status_code == 200

    response = client.post(ADD, terms(program, segments=[str(fans.pk)]))

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    # 9:00 on 31 October is daylight time (UTC-4); 9:00 on 2 November is standard (UTC-5).
    assert campaign.starts_at == datetime.datetime(2026, 10, 31, 13, 0, tzinfo=datetime.UTC)
    assert campaign.ends_at == datetime.datetime(2026, 11, 2, 14, 0, tzinfo=datetime.UTC)
    assert list(campaign.segments.all()) == [fans]
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.created_by == user
    event = CampaignEvent.objects.get(campaign=campaign)
    assert (event.to_status, event.actor) == (CampaignStatus.DRAFT, user)

    # The page and the list give the times back as the merchant's wall clock.
    page = client.get(change_url(campaign))
    assert 'name="starts_at_0" value="2026-10-31"' in page.text
    assert 'name="starts_at_1" value="09:00:00"' in page.text
    assert 'name="ends_at_1" value="09:00:00"' in page.text
    assert "America/New_York" in page.text
    listing = client.get(CHANGELIST)
    assert "2026-10-31 09:00 to 2026-11-02 09:00" in listing.text
    assert "x2 base points" in listing.text

    # Saved again unchanged, the times stay where they were.
    again = change_post(client, campaign, segments=[str(fans.pk)], name="Autumn double!")
    assert again.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Autumn double!"
    assert campaign.starts_at == datetime.datetime(2026, 10, 31, 13, 0, tzinfo=datetime.UTC)
    assert campaign.ends_at == datetime.datetime(2026, 11, 2, 14, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("wall", "utc"),
    [
        ("00:30:00", datetime.datetime(2026, 11, 1, 4, 30, tzinfo=datetime.UTC)),  # EDT still
        ("09:00:00", datetime.datetime(2026, 11, 1, 14, 0, tzinfo=datetime.UTC)),  # EST now
        ("23:59:00", datetime.datetime(2026, 11, 2, 4, 59, tzinfo=datetime.UTC)),
    ],
)
def test_a_start_on_the_day_the_clocks_go_back_is_read_on_the_merchants_clock(
    client, shop, wall, utc
):
    _, program, _, _, _ = shop
    marketer(client)
    response = client.post(ADD, terms(program, starts_at_0="2026-11-01", starts_at_1=wall))
    assert response.status_code == 302
    assert Campaign.objects.get().starts_at == utc


def test_the_form_offers_only_the_campaigns_merchants_segments_once_saved(client, shop):
    _, program, fans, _, _ = shop
    campaign = campaign_make(program, status="draft")
    marketer(client)
    form = client.get(change_url(campaign)).context["adminform"].form
    assert list(form.fields["segments"].queryset) == [fans]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"segments": "elsewhere"}, "segments"),
        ({"multiplier": "1"}, "multiplier"),
        ({"multiplier": "0.5"}, "multiplier"),
        ({"ends_at_0": "2026-10-30"}, "ends_at"),
        ({"ends_at_0": "2026-10-31"}, "ends_at"),
        ({"effect": "order_bonus", "multiplier": "", "bonus_points": "100"}, "min_order_total"),
        ({"add_codes": "AUTUMN-1\nAUTUMN-2"}, "add_codes"),
    ],
    ids=[
        "another merchant's segment",
        "multiplier 1",
        "multiplier below 1",
        "ends before it starts",
        "ends as it starts",
        "order bonus without a minimum",
        "codes on a multiplier",
    ],
)
def test_the_form_refuses_bad_terms_and_saves_nothing(client, shop, overrides, field):
    _, program, _, _, elsewhere = shop
    marketer(client)
    if overrides.get("segments") == "elsewhere":
        overrides = {**overrides, "segments": [str(elsewhere.pk)]}
    response = client.post(ADD, terms(program, **overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert 'class="errornote' in response.text
    assert Campaign.objects.count() == 0
    assert CampaignCoupon.objects.count() == 0


def test_codes_pasted_on_the_form_join_the_pool_once_each(client, shop):
    _, program, _, _, _ = shop
    marketer(client)
    response = client.post(
        ADD,
        terms(
            program,
            name="Spring coupon",
            effect="coupon",
            multiplier="",
            add_codes="SPRING-1\nSPRING-2\n\nSPRING-1\n  SPRING-3  \n",
        ),
        follow=True,
    )
    assert response.status_code == 200
    campaign = Campaign.objects.get()
    assert "3 codes added to the pool." in shown(response)
    codes = set(CampaignCoupon.objects.filter(campaign=campaign).values_list("code", flat=True))
    assert codes == {"SPRING-1", "SPRING-2", "SPRING-3"}

    response = change_post(
        client,
        campaign,
        name="Spring coupon",
        effect="coupon",
        multiplier="",
        add_codes="SPRING-3\nSPRING-4",
    )
    assert response.status_code == 302
    assert "1 code added to the pool." in shown(client.get(change_url(campaign)))
    assert CampaignCoupon.objects.filter(campaign=campaign).count() == 4
    page = client.get(change_url(campaign))
    assert "4 codes, 0 handed out, 4 free" in page.text


def test_a_bad_code_is_a_form_error_and_nothing_is_saved(client, shop):
    _, program, _, _, _ = shop
    marketer(client)
    response = client.post(
        ADD,
        terms(
            program, name="Spring", effect="coupon", multiplier="", add_codes="OK-1\n" + "X" * 70
        ),
    )
    assert response.status_code == 200
    assert "add_codes" in response.context["adminform"].form.errors
    assert Campaign.objects.count() == 0


# -- moves -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("draft", [("scheduled", "Schedule"), ("ended", "End")]),
        ("scheduled", [("draft", "Back to draft"), ("running", "Start now"), ("ended", "End")]),
        ("running", [("paused", "Pause"), ("ended", "End")]),
        ("paused", [("running", "Resume"), ("ended", "End")]),
        ("ended", []),
    ],
)
def test_the_page_shows_the_moves_of_the_status(client, shop, status, expected):
    _, program, _, _, _ = shop
    campaign = campaign_make(program, status=status)
    marketer(client)
    page = client.get(change_url(campaign))
    assert page.status_code == 200
    assert moves(page) == expected
    assert reverse("admin:loyalty_campaign_report", args=[campaign.pk]) in page.text


def test_no_move_buttons_without_the_right_to_move(client, shop):
    _, program, _, _, _ = shop
    campaign = campaign_make(program, status="running")
    editor = StaffFactory()
    editor.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="loyalty",
            codename__in=["view_campaign", "change_campaign", "view_program"],
        )
    )
    client.force_login(editor)
    page = client.get(change_url(campaign))
    assert page.status_code == 200
    assert moves(page) == []
    assert client.get(move_url(campaign, "paused")).status_code == 403
    assert client.post(move_url(campaign, "paused"), {"reason": "x"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING


def test_a_move_with_a_reason_is_recorded_with_who_made_it(client, shop):
    _, program, _, _, _ = shop
    campaign = campaign_make(program, status="running")
    user = marketer(client)
    form = client.get(move_url(campaign, "paused"))
    assert form.status_code == 200
    assert "Pause" in form.text

    no_reason = client.post(move_url(campaign, "paused"), {"reason": ""})
    assert no_reason.status_code == 200
    assert "reason" in no_reason.context["form"].errors

    response = client.post(move_url(campaign, "paused"), {"reason": "Stock ran out"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    event = CampaignEvent.objects.filter(campaign=campaign).latest("id")
    assert (event.from_status, event.to_status) == ("running", "paused")
    assert (event.actor, event.reason) == (user, "Stock ran out")
    assert event.actor_label
    assert moves(response) == [("running", "Resume"), ("ended", "End")]

    resumed = client.get(move_url(campaign, "running"))
    assert "Resume" in resumed.context["title"]
    client.post(move_url(campaign, "running"), {"reason": "Restocked"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING


@pytest.mark.parametrize("group", ["Marketing", "Operations"])
def test_the_page_shows_the_status_history_to_who_moves_campaigns(client, shop, group):
    _, program, _, _, _ = shop
    campaign = campaign_make(program, status="running")
    client.force_login(staff_in(group))
    client.post(move_url(campaign, "paused"), {"reason": "Stock ran out"})
    page = client.get(change_url(campaign))
    assert "Status history" in page.text
    assert "Stock ran out" in page.text


def test_a_move_the_status_does_not_allow_changes_nothing(client, shop):
    _, program, _, _, _ = shop
    campaign = campaign_make(program, status="draft")
    marketer(client)
    events = CampaignEvent.objects.filter(campaign=campaign).count()
    response = client.post(move_url(campaign, "paused"), {"reason": "typed by hand"}, follow=True)
    assert response.status_code == 200
    assert any("cannot become paused" in message for message in shown(response))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert CampaignEvent.objects.filter(campaign=campaign).count() == events
    assert client.get(move_url(campaign, "launched")).status_code == 404
    assert client.post(move_url(campaign, "launched"), {"reason": "x"}).status_code == 404


def test_scheduling_a_campaign_whose_end_passed_is_refused_with_a_message(client, shop):
    _, program, _, _, _ = shop
    now = timezone.now()
    campaign = campaign_make(
        program,
        status="draft",
        starts_at=now - datetime.timedelta(days=9),
        ends_at=now - datetime.timedelta(days=2),
    )
    marketer(client)
    response = client.post(move_url(campaign, "scheduled"), {"reason": "go"}, follow=True)
    assert response.status_code == 200
    assert any("end has passed" in message for message in shown(response))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_an_ended_campaign_is_read_only(client, shop):
    _, program, _, _, _ = shop
    campaign = campaign_make(program, name="Over", status="ended")
    marketer(client)
    page = client.get(change_url(campaign))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert 'name="name"' not in page.text
    assert moves(page) == []
    response = change_post(client, campaign, name="Renamed")
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status) == ("Over", CampaignStatus.ENDED)


# -- delete ------------------------------------------------------------------------------


def delete_url(campaign) -> str:
    return reverse("admin:loyalty_campaign_delete", args=[campaign.pk])


def test_only_a_draft_that_gave_nothing_can_be_deleted(client, shop):
    merchant, program, _, _, _ = shop
    draft = campaign_make(program, name="Draft", status="draft")
    running = campaign_make(program, name="Running", status="running")
    awarded = campaign_make(program, name="Awarded", status="draft")
    CampaignAward.objects.create(
        campaign=awarded, member=member_make(merchant), awarded_at=timezone.now()
    )
    marketer(client)
    for campaign in (running, awarded):
        assert client.get(delete_url(campaign)).status_code == 403
        assert client.post(delete_url(campaign), {"post": "yes"}).status_code == 403
        assert delete_url(campaign) not in client.get(change_url(campaign)).text
    assert delete_url(draft) in client.get(change_url(draft)).text
    assert client.get(delete_url(draft)).status_code == 200
    assert client.post(delete_url(draft), {"post": "yes"}).status_code == 302
    assert set(Campaign.objects.values_list("name", flat=True)) == {"Running", "Awarded"}


def test_the_lists_delete_action_spares_a_running_campaign(client, shop):
    _, program, _, _, _ = shop
    running = campaign_make(program, name="Running", status="running")
    marketer(client)
    response = client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [running.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert Campaign.objects.filter(pk=running.pk).exists()


# -- the report --------------------------------------------------------------------------


@pytest.fixture
def measured(db):
    """A running x2 campaign with a 50% control group: each reached member placed two
    orders of 50.00, each control member one of 30.00; another merchant's orders aside."""
    merchant, program = program_merchant()
    campaign = campaign_make(
        program, name="Double", holdout_percent=Decimal(50), points_budget=100_000
    )
    members = [member_make(merchant, f"m{i:02d}") for i in range(16)]
    cut = HOLDOUT_BUCKETS * 50 // 100
    control = [m for m in members if holdout_bucket(campaign.pk, str(m.pk)) < cut]
    treated = [m for m in members if m not in control]
    assert control
    assert treated
    for member in treated:
        order_post(merchant, member, "50.00")
        order_post(merchant, member, "50.00")
    for member in control:
        order_post(merchant, member, "30.00")
    other, _ = program_merchant()
    order_post(other, member_make(other, "m00"), "999.00")
    return campaign, treated, control


def test_the_report_compares_the_reached_members_with_the_control_group(client, measured):
    campaign, treated, control = measured
    t, c = len(treated), len(control)
    assert spent(campaign) == 100 * t  # x2: each 50.00 order's 50 base points again
    marketer(client)
    page = client.get(reverse("admin:loyalty_campaign_report", args=[campaign.pk]))
    assert page.status_code == 200
    cards = dict(page.context["cards"])
    assert cards == {
        "Members targeted": f"{t + c}",
        "Members reached": f"{t}",
        "Points given": f"{100 * t:,} of 100,000 ({100 * t / 100_000:.0%})",
        "Orders influenced": f"{2 * t}",
        "Revenue influenced": f"{100 * t:,.2f} USD",
        "Value of the points given": f"{t:,.2f} USD",
    }
    for label, value in cards.items():
        assert label in page.text
        assert value in page.text
    assert f"Campaign group ({t})" in page.text
    assert f"Control group ({c})" in page.text
    rows = {row["metric"]: row for row in page.context["rows"]}
    assert list(rows) == ["Orders per member", "Revenue per member", "Redemption rate"]
    orders = rows["Orders per member"]
    assert (orders["treated"], orders["control"], orders["lift"]) == ("2.000", "1.000", "+1.000")
    assert orders["relative"] == "+100.0%"
    assert orders["significant"]
    revenue = rows["Revenue per member"]
    assert (revenue["treated"], revenue["control"], revenue["lift"]) == (
        "100.00",
        "30.00",
        "+70.00",
    )
    redemption = rows["Redemption rate"]
    assert (redemption["treated"], redemption["lift"], redemption["relative"]) == (
        "0.0%",
        "+0.0 pts",
        "n/a",
    )
    assert "Orders per member" in page.text
    assert "+70.00" in page.text
    assert f"{70 * t:,.2f} USD" in page.text  # the incremental revenue
    assert "the incentive paid for itself" in page.text
    assert reverse("admin:loyalty_campaign_report_csv", args=[campaign.pk]) in page.text


def test_a_campaign_group_member_who_never_ordered_is_targeted_but_not_reached(client, measured):
    campaign, treated, control = measured
    merchant = campaign.program.merchant
    cut = HOLDOUT_BUCKETS * 50 // 100
    idle = member_make(merchant, "idle-0")
    while holdout_bucket(campaign.pk, str(idle.pk)) < cut:
        idle = member_make(merchant)
    marketer(client)
    page = client.get(reverse("admin:loyalty_campaign_report", args=[campaign.pk]))
    cards = dict(page.context["cards"])
    assert cards["Members reached"] == str(len(treated))
    assert f"Campaign group ({len(treated) + 1})" in page.text
    # The members made while looking for one outside the control group are in it: every
    # member of the merchant is targeted, one more of them in the campaign group.
    members = Member.objects.filter(merchant=merchant).count()
    assert members >= len(treated) + len(control) + 1
    assert cards["Members targeted"] == str(members)


def test_the_reports_csv_has_the_same_figures(client, measured):
    campaign, treated, control = measured
    t, c = len(treated), len(control)
    marketer(client)
    response = client.get(reverse("admin:loyalty_campaign_report_csv", args=[campaign.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"campaign-{campaign.pk}-report.csv" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode())))
    figures = {row[0]: row[1:] for row in table if row}
    assert figures["Campaign"] == ["Double"]
    assert figures["Members targeted"] == [str(t + c)]
    assert figures["Members reached"] == [str(t)]
    assert figures["Points given"] == [str(100 * t)]
    assert figures["Budget"] == ["100000"]
    assert figures["Orders influenced"] == [str(2 * t)]
    assert figures["Revenue influenced (USD)"] == [f"{100 * t:.2f}"]
    assert figures["Value of the points given (USD)"] == [f"{t:.2f}"]
    assert figures["Incremental revenue (USD)"] == [f"{70 * t:.2f}"]
    assert figures["Metric"] == [
        f"Campaign group ({t})",
        f"Control group ({c})",
        "Lift",
        "95% low",
        "95% high",
        "Significant",
    ]
    assert figures["Orders per member"] == ["2.0000", "1.0000", "1.0000", "1.0000", "1.0000", "yes"]
    assert figures["Revenue per member"][:3] == ["100.0000", "30.0000", "70.0000"]
    assert figures["Redemption rate"][-1] == "no"


def test_a_report_without_a_control_group_says_so(client, shop):
    merchant, program, _, _, _ = shop
    campaign = campaign_make(program, name="Everyone")
    order_post(merchant, member_make(merchant), "20.00")
    marketer(client)
    page = client.get(reverse("admin:loyalty_campaign_report", args=[campaign.pk]))
    assert page.status_code == 200
    assert "keeps no control group" in page.text
    assert "holdout is 0%" in page.text
    # The window in the merchant's time, as on the campaign's page.
    start = timezone.localtime(campaign.starts_at, NEW_YORK)
    assert f"{start:%Y-%m-%d %H:%M} to now" in page.text
    assert "America/New_York" in page.text


# -- who may do what ---------------------------------------------------------------------


def test_operations_view_move_and_report_but_do_not_add_or_edit(client, measured):
    campaign, _, _ = measured
    client.force_login(staff_in("Operations"))
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(ADD).status_code == 403
    page = client.get(change_url(campaign))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert moves(page) == [("paused", "Pause"), ("ended", "End")]
    report = client.get(reverse("admin:loyalty_campaign_report", args=[campaign.pk]))
    assert report.status_code == 200
    export = client.get(reverse("admin:loyalty_campaign_report_csv", args=[campaign.pk]))
    assert export.status_code == 200
    assert client.get(delete_url(campaign)).status_code == 403
    client.post(move_url(campaign, "paused"), {"reason": "Ops check"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED


def test_care_agents_reach_no_campaign_page_nor_the_simulator(client, measured):
    campaign, _, _ = measured
    client.force_login(staff_in("Customer care"))
    for url in (
        CHANGELIST,
        ADD,
        change_url(campaign),
        reverse("admin:loyalty_campaign_report", args=[campaign.pk]),
        reverse("admin:loyalty_campaign_report_csv", args=[campaign.pk]),
        move_url(campaign, "paused"),
        reverse("admin:loyalty_program_simulate", args=[campaign.program_id]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(move_url(campaign, "paused"), {"reason": "x"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING


def test_the_campaign_list_reads_a_fixed_number_of_queries(
    client, shop, django_assert_max_num_queries
):
    _, program, fans, _, _ = shop
    for i in range(12):
        campaign_make(
            program,
            name=f"C{i}",
            segments=[fans] if i % 2 else None,
            holdout_percent=Decimal(10),
            points_budget=1000 if i % 3 else None,
        )
    marketer(client)
    client.get(CHANGELIST)  # the sidebar's badges and the reader's time zone, cached after
    with django_assert_max_num_queries(7):
        listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "Fans · control 10%" in listing.text
    assert "0 of 1,000 (0%)" in listing.text


# -- the simulator -----------------------------------------------------------------------


@pytest.fixture
def simulator(shop):
    """The shop with a Gold tier, an x2 campaign that started three hours ago and a +25
    bonus for its fans."""
    merchant, program, fans, other_program, elsewhere = shop
    program.tiers_enabled = True
    program.save(update_fields=["tiers_enabled"])
    Tier.objects.create(program=program, name="Gold", threshold=500, multiplier=Decimal(2))
    now = timezone.now()
    campaign_make(program, name="Double", starts_at=now - datetime.timedelta(hours=3))
    campaign_make(
        program,
        name="Fans bonus",
        effect="order_bonus",
        bonus_points=25,
        min_order_total=Decimal(10),
        segments=[fans],
    )
    member_make(merchant, "cust-1")
    other_member = member_make(other_program.merchant, "vip-9", email="vip@elsewhere.example")
    segment_with(other_program.merchant, other_member, name="Other VIPs")
    return merchant, program, fans, elsewhere


def order(**overrides) -> dict:
    """The simulator's POST: 80.00 an hour ago, typed as New York's wall clock."""
    placed = timezone.localtime(timezone.now() - datetime.timedelta(hours=1), NEW_YORK)
    return {
        "member": "cust-1",
        "tier": "",
        "total": "80.00",
        "currency": "USD",
        "placed_at": f"{placed:%Y-%m-%d %H:%M:%S}",
        "store": "",
        "lines": "",
        **overrides,
    }


def simulate_url(program) -> str:
    return reverse("admin:loyalty_program_simulate", args=[program.pk])


def test_the_simulator_shows_what_an_existing_members_order_earns(client, simulator):
    merchant, program, _, _ = simulator
    marketer(client)
    assert client.get(simulate_url(program)).status_code == 200
    response = client.post(simulate_url(program), order())
    assert response.status_code == 200
    simulation = response.context["simulation"]
    assert simulation is not None, response.context["form"].errors
    # 80 base points and 80 more from the x2 campaign (the order was an hour ago in New
    # York: after the campaign started); the fans' bonus is not this member's.
    assert simulation.evaluation.points == 160
    assert "160 stars" in response.text
    assert "member cust-1" in response.text
    assert "Campaign" in response.text
    assert "Fans bonus" in response.text  # under what would not apply
    assert not Order.objects.filter(merchant=merchant).exists()
    assert not LedgerEntry.objects.filter(merchant=merchant, kind="earn").exists()


def test_the_simulator_assumes_a_tier_and_segments_for_a_hypothetical_member(client, simulator):
    _, program, fans, _ = simulator
    marketer(client)
    plain = client.post(simulate_url(program), order(member="someone-new"))
    assumed = client.post(
        simulate_url(program), order(member="someone-new", tier="Gold", segments=[str(fans.pk)])
    )
    assert plain.context["simulation"].member is None
    assert "a hypothetical new member" in plain.text
    simulation = assumed.context["simulation"]
    assert simulation is not None, assumed.context["form"].errors
    assert "a hypothetical new member in tier Gold" in assumed.text
    campaigns = {part.label for part in simulation.evaluation.parts if part.campaign_id}
    assert any("Fans bonus" in label for label in campaigns), campaigns
    assert simulation.evaluation.points > plain.context["simulation"].evaluation.points
    # An existing member is who they are: assuming things of them is refused.
    refused = client.post(simulate_url(program), order(tier="Gold"))
    assert refused.context["simulation"] is None
    assert "their own tier and segments are used" in refused.text


def test_bad_lines_are_a_form_error(client, simulator):
    _, program, _, _ = simulator
    marketer(client)
    response = client.post(simulate_url(program), order(lines="TENT-2P, camping, two, 120"))
    assert response.status_code == 200
    assert response.context["simulation"] is None
    assert "Line 1: write SKU, category, quantity, unit price." in response.text
    negative = client.post(simulate_url(program), order(lines="TENT-2P, camping, 0, 120"))
    assert "Line 1: a positive quantity and price." in negative.text


def test_another_merchants_member_is_a_stranger_to_the_simulator(client, simulator):
    _, program, _, elsewhere = simulator
    marketer(client)
    response = client.post(simulate_url(program), order(member="vip-9"))
    simulation = response.context["simulation"]
    assert simulation is not None, response.context["form"].errors
    assert simulation.member is None
    assert simulation.tier is None
    assert "a hypothetical new member" in response.text
    assert "member vip-9" not in response.text
    assert "vip@elsewhere.example" not in response.text
    assert "Other VIPs" not in response.text
    # Nor can another merchant's segment be assumed.
    foreign = client.post(
        simulate_url(program), order(member="someone-new", segments=[str(elsewhere.pk)])
    )
    assert foreign.context["simulation"] is None
    assert "segments" in foreign.context["form"].errors
    assert "Elsewhere fans" not in foreign.text


@pytest.mark.parametrize("price", ["NaN", "sNaN"])
def test_a_price_that_is_not_a_number_is_a_form_error(client, simulator, price):
    _, program, _, _ = simulator
    marketer(client)
    response = client.post(simulate_url(program), order(lines=f"TENT-2P, camping, 1, {price}"))
    assert response.status_code == 200
    assert "lines" in response.context["form"].errors


@pytest.mark.parametrize(
    ("group", "sees"), [("Marketing", True), ("Operations", True), ("Finance", False)]
)
def test_the_program_page_links_the_simulator_for_who_may_use_it(client, shop, group, sees):
    _, program, _, _, _ = shop
    client.force_login(staff_in(group))
    page = client.get(reverse("admin:loyalty_program_change", args=[program.pk]))
    assert page.status_code == 200
    assert ("Simulate an order" in page.text) is sees
    assert (simulate_url(program) in page.text) is sees
    assert client.get(simulate_url(program)).status_code == (200 if sees else 403)


def test_the_simulator_refuses_a_post_without_the_right(client, simulator):
    _, program, _, _ = simulator
    client.force_login(staff_in("Finance"))
    assert client.post(simulate_url(program), order()).status_code == 403
