"""The ops console's frame: the sidebar grouped by the work, what each staff group sees
in it, the environment label, signing in, and the home's cards with their badges."""

import datetime
import re

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from config import navigation
from config.admin import environment_label
from core.actors import SYSTEM
from core.models import OpsCount
from core.ops_cards import all_cards, snapshot_counts
from customercare.models import Ticket
from merchants.models import Merchant, MerchantStatus
from merchants.services import lifecycle
from tests.merchants.factories import MerchantFactory, staff_in

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")
PASSWORD = "pass-word-123"


@pytest.fixture(autouse=True)
def fresh_badges():
    cache.clear()


def sections(response) -> list[str]:
    return [group["title"] for group in response.context["sidebar_navigation"]]


def entries(response) -> set[str]:
    return {
        item["title"] for group in response.context["sidebar_navigation"] for item in group["items"]
    }


def test_every_model_on_the_site_is_in_exactly_one_sidebar_section():
    listed = [
        entry.target
        for section in navigation.SECTIONS
        for entry in section.entries
        if not entry.is_page
    ]
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert sorted(listed) == sorted(set(listed)), "a model is listed twice"
    assert set(listed) == registered


def test_a_superuser_sees_every_section_and_the_plumbing(admin_client):
    response = admin_client.get(HOME)
    assert response.status_code == 200
    assert sections(response) == [section.title for section in navigation.SECTIONS]
    assert {"Intervals", "Crontabs"} <= entries(response)


@pytest.mark.parametrize(
    ("group", "sees", "does_not_see"),
    [
        ("Customer care", {"Tickets", "Members"}, {"Invoices", "Intervals", "Staff users"}),
        ("Finance", {"Invoices", "Fee plans"}, {"Tickets", "Intervals", "Staff users"}),
        ("Catalog", {"Rewards", "Brands"}, {"Tickets", "Intervals", "Invoices"}),
        ("Marketing", {"Segments", "Campaigns"}, {"Invoices", "Intervals", "Staff users"}),
    ],
)
def test_a_staff_group_sees_only_the_entries_it_may_open(client, group, sees, does_not_see):
    client.force_login(staff_in(group))
    response = client.get(HOME)
    assert response.status_code == 200
    shown = entries(response)
    assert sees <= shown, shown
    assert not (does_not_see & shown), shown
    assert "Plumbing" not in sections(response)


def test_the_home_shows_a_group_only_the_cards_of_lists_it_may_open(client):
    client.force_login(staff_in("Customer care"))
    titles = {
        shown.card.title
        for section in client.get(HOME).context["sections"]
        for shown in section["cards"]
    }
    assert "Unassigned tickets" in titles
    assert "Invoices overdue" not in titles


@pytest.mark.parametrize(
    ("label", "colour"),
    [("production", "danger"), ("staging", "warning"), ("demo", "info")],
)
def test_the_environment_label_names_the_deployment(rf, settings, label, colour):
    settings.ENVIRONMENT_LABEL = label
    assert environment_label(rf.get(HOME)) == [label.capitalize(), colour]


def test_the_header_shows_the_environment_and_the_title_prefix(admin_client, settings):
    settings.ENVIRONMENT_LABEL = "production"
    body = admin_client.get(HOME).content.decode()
    assert "Production" in body
    assert re.search(r"<title>\[Production\] ", body)


def test_signing_in_without_a_next_page_lands_on_the_admin_home(client, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)
    response = client.post(
        reverse("admin:login"), {"username": "ops", "password": PASSWORD}, follow=False
    )
    assert response.status_code == 302
    assert response["Location"] == HOME


def test_each_card_links_to_a_list_that_answers(admin_client):
    now = timezone.now()
    for card in all_cards():
        card.figure(now)
        if card.link:
            url = reverse(card.link) + (f"?{card.query}" if card.query else "")
            response = admin_client.get(url)
            assert response.status_code == 200, (card.key, url)
            # An unknown filter value makes Django's admin answer with ?e=1 instead.
            assert "e=1" not in response.get("Location", ""), card.key


def test_a_queue_card_counts_the_rows_its_list_shows(admin_client):
    MerchantFactory(name="Applied Co", slug="applied-co")
    reviewed = MerchantFactory(name="Review Co", slug="review-co")
    lifecycle.merchant_transition(
        merchant=reviewed, to_status=MerchantStatus.IN_REVIEW, reason="docs in", actor=SYSTEM
    )
    card = next(card for card in all_cards() if card.key == "merchants.review")
    assert card.figure(timezone.now()).value == 2
    response = admin_client.get(reverse(card.link) + "?" + card.query)
    listed = {merchant.slug for merchant in response.context["cl"].result_list}
    assert listed == {"applied-co", "review-co"}
    assert Merchant.objects.count() == 2


def test_the_sidebar_badge_counts_the_work_of_its_list(admin_client):
    MerchantFactory(name="Applied Co", slug="applied-co")
    response = admin_client.get(HOME)
    badges = {
        item["title"]: item["badge"]
        for group in response.context["sidebar_navigation"]
        for item in group["items"]
    }
    assert badges["Merchants"] == "1"
    assert badges["Tickets"] is None
    assert Ticket.objects.count() == 0


def test_the_home_renders_in_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    admin_client.get(HOME)
    # Session, user, and one query per card (the badges come from the cache).
    with django_assert_max_num_queries(len(all_cards()) + 8):
        assert admin_client.get(HOME).status_code == 200


def test_the_readme_tour_explains_every_card_of_the_home():
    readme = (settings.BASE_DIR / "README.md").read_text()
    tour = readme.split("### The ops console: a tour of the admin", 1)[1].split("\n### ", 1)[0]
    missing = [card.title for card in all_cards() if card.title not in tour]
    assert missing == []
    assert "docs/admin-home.png" in tour


def test_the_snapshot_keeps_one_count_a_day_per_card_and_a_rerun_updates_it():
    MerchantFactory(name="Applied Co", slug="applied-co")
    now = timezone.now()
    written = snapshot_counts(now=now)
    assert written == OpsCount.objects.count() > 10
    assert OpsCount.objects.get(key="merchants.review").value == 1
    MerchantFactory(name="Second Co", slug="second-co")
    assert snapshot_counts(now=now + datetime.timedelta(minutes=15)) == written
    assert OpsCount.objects.count() == written
    assert OpsCount.objects.get(key="merchants.review").value == 2
    # A figure with its own history (points from the aggregates) is not kept twice.
    assert not OpsCount.objects.filter(key="money.issued").exists()


def test_a_count_card_draws_its_week_from_the_snapshots_and_today(admin_client):
    MerchantFactory(name="Applied Co", slug="applied-co")
    today = timezone.localdate()
    for days_ago, value in ((3, 5), (2, 3), (1, 4)):
        OpsCount.objects.create(
            key="merchants.review",
            day=today - datetime.timedelta(days=days_ago),
            value=value,
            taken_at=timezone.now(),
        )
    shown = {
        card.card.key: card
        for section in admin_client.get(HOME).context["sections"]
        for card in section["cards"]
    }
    assert shown["merchants.review"].trend_words == "5, 3, 4, 1"
    assert shown["merchants.review"].spark
    assert shown["merchants.blocked"].spark == ""  # one point is not a line
