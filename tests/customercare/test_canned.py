"""Canned replies: filling the known placeholders and nothing else (never a format string
a member's name or a reply's text could steer), the member's language, and which replies
a merchant's tickets offer."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customercare.canned import (
    PLACEHOLDERS,
    canned_render,
    canned_replies_for,
    canned_text,
    canned_values,
)
from customercare.models import CannedReply, Ticket
from tests.customercare.factories import care_merchant, member_of, ticket_open

VALUES = {
    "member_name": "Ana",
    "points_balance": "1200",
    "points_name": "Stars",
    "reward_name": "Coffee card",
    "ticket_reference": "T-ABC",
    "merchant_name": "Shoes & Co",
}


def test_every_known_placeholder_is_filled():
    body = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    assert canned_render(body, VALUES) == "Ana 1200 Stars Coffee card T-ABC Shoes & Co"


@pytest.mark.parametrize(
    "body",
    [
        "{unknown} {Member_name} { member_name } {member_name!r} {member_name:>10}",
        "{0} {} {{member_name}",
        "{member_name.__class__} {points_balance[0]}",
    ],
)
def test_unknown_placeholders_and_format_syntax_are_left_as_written(body):
    # Only a bare known name in single braces is a placeholder ("{{member_name}" holds one).
    assert canned_render(body, VALUES) == body.replace("{{member_name}", "{Ana")


def test_values_are_not_scanned_again_and_empty_values_stay_placeholders():
    values = {
        **VALUES,
        "member_name": "{points_balance} {merchant_name.__init__}",
        "reward_name": "",
    }
    assert canned_render("Hi {member_name}, {reward_name}", values) == (
        "Hi {points_balance} {merchant_name.__init__}, {reward_name}"
    )


def test_no_values_leaves_the_text_alone():
    assert canned_render("Hello {member_name}", {}) == "Hello {member_name}"


@pytest.mark.django_db
def test_values_of_a_ticket_and_its_member_in_their_language():
    merchant = care_merchant()
    member = member_of(merchant, 1200, locale="fr-FR")
    ticket = ticket_open(member)
    reply = CannedReply.objects.create(
        title="Hello",
        body_en="Hello {member_name}",
        body_fr="Bonjour {member_name}, {points_balance}",
    )
    ticket = Ticket.objects.select_related("merchant", "member", "redemption").get(pk=ticket.pk)
    values = canned_values(ticket=ticket, points_name="Stars")
    assert values["member_name"] == "Ana"
    assert values["points_balance"] == "1200"
    assert values["ticket_reference"] == ticket.reference
    assert values["merchant_name"] == merchant.name
    assert values["reward_name"] == ""
    assert canned_text(reply, language="fr", values=values) == "Bonjour Ana, 1200"
    assert canned_text(reply, language="en", values=values) == "Hello Ana"
    reply.body_fr = ""
    assert canned_text(reply, language="fr", values=values) == "Hello Ana"  # English fallback


@pytest.mark.django_db
def test_a_merchant_gets_its_own_replies_then_the_global_ones_it_does_not_override():
    merchant, other = care_merchant(), care_merchant()
    CannedReply.objects.create(title="Delay", body="global delay")
    CannedReply.objects.create(title="Welcome", body="global welcome")
    CannedReply.objects.create(title="Old", body="retired", is_active=False)
    own = CannedReply.objects.create(merchant=merchant, title="Delay", body="our delay")
    CannedReply.objects.create(merchant=other, title="Theirs", body="not ours")

    with CaptureQueriesContext(connection) as queries:
        offered = canned_replies_for(merchant=merchant)

    assert len(queries) == 1
    assert [(reply.title, reply.body) for reply in offered] == [
        ("Delay", "our delay"),
        ("Welcome", "global welcome"),
    ]
    assert offered[0] == own
    assert [reply.title for reply in canned_replies_for(merchant=other)] == [
        "Delay",
        "Theirs",
        "Welcome",
    ]
