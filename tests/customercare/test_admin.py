"""The care desk in the admin, clicked through as an agent of the Customer care group:
the ticket list's filters, search and work queue; the ticket page's reply, note, canned
replies, take it, status moves (an illegal one refused with its reason), merge, goodwill
(under and over the threshold, a senior's approval, self-approval refused, a double
submit posting once), resend and reissue of the linked reward, attachment downloads;
permissions per staff group; and query counts that do not grow with the rows."""

import datetime
import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from customercare import goodwill, services
from customercare.models import (
    CannedReply,
    CareSettings,
    GoodwillAdjustment,
    GoodwillStatus,
    MessageKind,
    ProgramTerms,
    SLAState,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from fulfillment.adapters.sandbox import sandbox_reset
from fulfillment.models import Redemption
from loyalty.models import LedgerEntry, Member
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.factories import assert_ledger_consistent, order_post, points_give
from tests.merchants.factories import staff_in
from tests.merchants.test_admin import form_data, messages_of

pytestmark = pytest.mark.django_db

TICKETS = reverse("admin:customercare_ticket_changelist")
GOODWILL = reverse("admin:customercare_goodwilladjustment_changelist")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def page_url(ticket: Ticket) -> str:
    return reverse("admin:customercare_ticket_change", args=[ticket.pk])


def act_url(ticket: Ticket, name: str) -> str:
    return reverse("admin:customercare_ticket_act", args=[ticket.pk, name])


def senior_make(**kwargs):
    user = agent_make(available=False, **kwargs)
    user.user_permissions.add(Permission.objects.get(codename="approve_goodwill"))
    return user


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [ticket.pk for ticket in response.context["cl"].result_list]


def submit(client, ticket: Ticket, form_id: str, action: str = "", **changes):
    """Fill the page's form ``form_id`` as a browser would, change some fields, post it
    to the form's action (``action``, or the name the form's id starts with)."""
    page = client.get(page_url(ticket))
    data = form_data(page, form_id)
    data.update({name: [value] for name, value in changes.items()})
    return client.post(act_url(ticket, action or form_id.removesuffix("-form")), data)


@pytest.fixture
def desk(client):
    """A merchant whose goodwill needs approval above 500 points, its member Ana with
    1000 points and a ticket, and an agent logged in."""
    merchant = care_merchant()
    CareSettings.objects.create(
        merchant=merchant, goodwill_approval_threshold=500, goodwill_max_per_30_days=3
    )
    member = member_of(merchant, 1000)
    agent = agent_make(available=False, username="alice")
    client.force_login(agent)
    return {"merchant": merchant, "member": member, "agent": agent, "ticket": ticket_open(member)}


# -- the list ----------------------------------------------------------------------------------


def test_filters_pick_the_right_tickets(client, desk):
    agent, member = desk["agent"], desk["member"]
    mine = desk["ticket"]
    services.ticket_take(ticket=mine, actor=Actor.staff(agent))
    urgent = ticket_open(member, priority=TicketPriority.URGENT)
    services.ticket_set_category(
        ticket=urgent, category=TicketCategory.WRONG_REWARD, actor=Actor.staff(agent)
    )
    breached = ticket_open(member)
    Ticket.objects.filter(pk=breached.pk).update(sla_state=SLAState.BREACHED)
    resolved = ticket_open(member)
    services.ticket_move(ticket=resolved, to=TicketStatus.RESOLVED, actor=Actor.staff(agent))
    colleague = agent_make(available=False)
    services.ticket_assign(ticket=resolved, assignee=colleague, actor=Actor.staff(agent))
    elsewhere = ticket_open(member_of(care_merchant(), 0))

    def ids(**params) -> set[int]:
        return set(listed(client.get(TICKETS, params)))

    everything = {mine.pk, urgent.pk, breached.pk, resolved.pk, elsewhere.pk}
    assert ids() == everything
    assert ids(assignee="mine") == {mine.pk}
    assert ids(assignee="none") == {urgent.pk, breached.pk, elsewhere.pk}
    assert ids(assignee=str(colleague.pk)) == {resolved.pk}
    assert ids(sla_state__exact="breached") == {breached.pk}
    assert ids(status__exact="resolved") == {resolved.pk}
    assert ids(priority__exact="urgent") == {urgent.pk}
    assert ids(category__exact="wrong_reward") == {urgent.pk}
    assert ids(merchant__id__exact=str(elsewhere.merchant_id)) == {elsewhere.pk}
    assert ids(queue="open") == everything - {resolved.pk}


def test_search_by_reference_member_email_or_external_id(client, desk):
    ticket = desk["ticket"]
    other = ticket_open(member_of(desk["merchant"], 0, email="bob@example.com"))

    def found(term: str) -> list[int]:
        return listed(client.get(TICKETS, {"q": term}))

    assert found(ticket.reference) == [ticket.pk]
    assert found(ticket.reference.lower()) == [ticket.pk]
    assert found("BOB@example.com") == [other.pk]
    assert found(desk["member"].external_id) == [ticket.pk]
    assert found("T-NOSUCHTICKET") == []
    assert found("ana") == []  # exact matches only


def test_the_queue_lists_new_and_open_tickets_soonest_due_first(client, desk):
    member, agent = desk["member"], desk["agent"]
    now = timezone.now()
    late = desk["ticket"]
    soon, answered, waiting = ticket_open(member), ticket_open(member), ticket_open(member)
    services.ticket_reply(ticket=answered, body="Hi", internal=False, actor=Actor.staff(agent))
    services.ticket_move(ticket=waiting, to=TicketStatus.PENDING_CUSTOMER, actor=Actor.staff(agent))
    Ticket.objects.filter(pk=late.pk).update(
        first_response_due_at=now + datetime.timedelta(hours=5)
    )
    Ticket.objects.filter(pk=soon.pk).update(
        first_response_due_at=now - datetime.timedelta(hours=1)
    )
    # Answered: the resolution is what is due next.
    Ticket.objects.filter(pk=answered.pk).update(
        first_response_due_at=now - datetime.timedelta(days=9),
        resolution_due_at=now + datetime.timedelta(hours=2),
    )

    response = client.get(TICKETS, {"queue": "due"})

    assert listed(response) == [soon.pk, answered.pk, late.pk]
    assert '<strong class="overdue">Overdue</strong>' in response.content.decode()
    mine = client.get(TICKETS, {"queue": "due", "assignee": "mine"})
    assert listed(mine) == []


def test_take_the_selected_tickets_from_the_list(client, desk):
    second = ticket_open(desk["member"])
    chosen = [desk["ticket"].pk, second.pk]
    response = client.post(
        TICKETS, {"action": "take_selected", "index": "0", "_selected_action": chosen}
    )
    assert response.status_code == 302
    assert set(Ticket.objects.filter(assignee=desk["agent"]).values_list("pk", flat=True)) == set(
        chosen
    )
    client.force_login(staff_in("Operations"))  # may look, may not take
    other = ticket_open(desk["member"])
    client.post(TICKETS, {"action": "take_selected", "index": "0", "_selected_action": [other.pk]})
    assert Ticket.objects.get(pk=other.pk).assignee is None


# -- the ticket page -----------------------------------------------------------------------------


def test_the_page_shows_the_thread_the_history_and_the_member(client, desk):
    ticket, member = desk["ticket"], desk["member"]
    services.ticket_reply(
        ticket=ticket, body="Checking", internal=True, actor=Actor.staff(desk["agent"])
    )
    page = client.get(page_url(ticket)).content.decode()
    assert "I bought shoes last week." in page
    assert "Checking" in page
    assert 'id="member-balance">1000 Points' in page
    assert reverse("admin:loyalty_member_change", args=[member.pk]) in page
    ledger = reverse("admin:loyalty_ledgerentry_changelist") + f"?member__id__exact={member.pk}"
    assert ledger in page
    assert 'id="history"' in page
    for form_id in ("reply-form", "note-form", "status-form", "take-form", "goodwill-form"):
        assert f'id="{form_id}"' in page, form_id
    assert 'id="reissue-form"' not in page  # no redemption, and not a senior


def test_reply_and_internal_note_from_the_page(client, desk):
    ticket = desk["ticket"]
    response = submit(client, ticket, "reply-form", **{"reply-body": "Your points are on the way."})
    assert response.status_code == 302
    assert messages_of(response) == ["Reply sent to the member."]
    reply = ticket.messages.get(body="Your points are on the way.")
    assert (reply.kind, reply.author) == (MessageKind.PUBLIC, desk["agent"])
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.first_responded_at is not None

    response = submit(
        client,
        ticket,
        "note-form",
        **{"note-body": "Called the store."},
    )
    assert response.status_code == 302
    note = ticket.messages.get(body="Called the store.")
    assert note.kind == MessageKind.INTERNAL


def test_a_reply_can_resolve_the_ticket_and_carry_a_file(client, desk):
    ticket = desk["ticket"]
    page = client.get(page_url(ticket))
    data = {key: value[0] for key, value in form_data(page, "reply-form").items()}
    data.update(
        {
            "reply-body": "Here is the receipt.",
            "reply-then": "resolved",
            "reply-attachments": SimpleUploadedFile("receipt.png", PNG, "image/png"),
        }
    )
    response = client.post(act_url(ticket, "reply"), data)
    assert response.status_code == 302
    message = ticket.messages.get(body="Here is the receipt.")
    assert [a.filename for a in message.attachments.all()] == ["receipt.png"]
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.RESOLVED


def test_an_empty_reply_is_a_form_error_and_sends_nothing(client, desk):
    ticket = desk["ticket"]
    before = TicketMessage.objects.count()
    response = submit(client, ticket, "reply-form", **{"reply-body": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert TicketMessage.objects.count() == before
    refused = submit(client, ticket, "reply-form", **{"reply-body": "x", "reply-then": "merged"})
    assert "Select a valid choice" in refused.content.decode()
    assert TicketMessage.objects.count() == before


def test_a_canned_reply_is_filled_for_the_ticket_and_inserted(client, desk):
    ticket, merchant = desk["ticket"], desk["merchant"]
    CannedReply.objects.create(
        merchant=merchant,
        title="Balance",
        body="Hi {member_name}, you have {points_balance} {points_name} "
        "({ticket_reference}). {unknown}",
    )
    CannedReply.objects.create(merchant=care_merchant(), title="Not here", body="other shop")
    page = client.get(page_url(ticket))
    texts = json.loads(
        page.content.decode()
        .split('id="canned-texts" type="application/json">')[1]
        .split("</script>")[0]
    )
    filled = f"Hi Ana, you have 1000 Points ({ticket.reference}). {{unknown}}"
    assert list(texts.values()) == [filled]

    before = TicketMessage.objects.count()
    data = form_data(page, "reply-form")
    (reply_id,) = texts
    data.update({"reply-canned": [reply_id], "reply-body": ["Hello."], "insert": ["1"]})
    inserted = client.post(act_url(ticket, "reply"), data)

    assert inserted.status_code == 200
    assert TicketMessage.objects.count() == before  # inserted into the form, not sent
    body = form_data(inserted, "reply-form")["reply-body"][0]
    assert body == f"Hello.\n\n{filled}"
    # Sending the inserted text is an ordinary reply.
    sent = client.post(act_url(ticket, "reply"), {**form_data(inserted, "reply-form"), "send": "1"})
    assert sent.status_code == 302
    assert ticket.messages.filter(body=body, kind=MessageKind.PUBLIC).exists()


def test_take_it(client, desk):
    ticket, agent = desk["ticket"], desk["agent"]
    response = client.post(act_url(ticket, "take"))
    assert response.status_code == 302
    assert messages_of(response) == ["The ticket is yours."]
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent
    event = TicketEvent.objects.filter(ticket=ticket, field="assignee").last()
    assert (event.to_value, event.actor) == (agent.username, agent)
    assert 'id="take-form"' not in client.get(page_url(ticket)).content.decode()


def test_status_priority_category_and_assignee_from_the_page(client, desk):
    ticket = desk["ticket"]
    colleague = agent_make(available=False, username="bruno")
    assert (
        submit(client, ticket, "status-form", **{"status-to": "pending_customer"}).status_code
        == 302
    )
    assert (
        submit(client, ticket, "priority-form", **{"priority-priority": "high"}).status_code == 302
    )
    assert (
        submit(client, ticket, "category-form", **{"category-category": "wrong_reward"}).status_code
        == 302
    )
    assert (
        submit(client, ticket, "assign-form", **{"assign-assignee": str(colleague.pk)}).status_code
        == 302
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.category, ticket.assignee) == (
        "pending_customer",
        "high",
        "wrong_reward",
        colleague,
    )
    fields = list(
        TicketEvent.objects.filter(ticket=ticket, actor=desk["agent"]).values_list(
            "field", flat=True
        )
    )
    assert fields == ["status", "priority", "category", "assignee"]


def test_an_illegal_status_change_is_refused_with_its_reason_and_changes_nothing(client, desk):
    ticket = desk["ticket"]
    services.ticket_move(ticket=ticket, to=TicketStatus.CLOSED, actor=Actor.staff(desk["agent"]))
    events = TicketEvent.objects.count()

    response = client.post(act_url(ticket, "status"), {"status-to": "open", "status-note": "try"})

    assert response.status_code == 200
    assert "A ticket cannot go from Closed to Open." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.CLOSED
    assert TicketEvent.objects.count() == events
    # A value that is no status at all is a form error.
    bad = client.post(act_url(ticket, "status"), {"status-to": "deleted"})
    assert "Select a valid choice" in bad.content.decode()
    assert TicketEvent.objects.count() == events


def test_merge_from_the_page(client, desk):
    ticket, member = desk["ticket"], desk["member"]
    target = ticket_open(member, subject="Same problem", body="second message")
    ticket_open(member_of(desk["merchant"], 0, email="x@example.com"))  # another member's
    page = client.get(page_url(ticket)).content.decode()
    assert f'<option value="{target.reference}">' in page
    assert page.count('<option value="T-') == 1  # neither itself nor another member's

    response = client.post(act_url(ticket, "merge"), {"merge-into": target.reference})

    assert response.status_code == 302
    assert response["Location"] == page_url(target)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.merged_into) == (TicketStatus.MERGED, target)
    assert target.messages.filter(body="I bought shoes last week.").exists()
    merged_page = client.get(page_url(ticket)).content.decode()
    assert target.reference in merged_page
    assert 'id="reply-form"' not in merged_page


def test_merge_into_another_members_ticket_is_refused(client, desk):
    stranger = ticket_open(member_of(desk["merchant"], 0, email="x@example.com"))
    response = client.post(act_url(desk["ticket"], "merge"), {"merge-into": stranger.reference})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Ticket.objects.filter(status=TicketStatus.MERGED).exists()


# -- goodwill from the page ------------------------------------------------------------------------


def ticket_entries(member: Member) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(member=member, source_type=LedgerEntry.Source.TICKET))


def test_goodwill_under_the_threshold_posts_and_a_double_submit_posts_once(client, desk):
    ticket, member = desk["ticket"], desk["member"]
    page = client.get(page_url(ticket))
    assert "Up to 500 Points posts at once" in page.content.decode()
    data = form_data(page, "goodwill-form")
    data.update(
        {
            "goodwill-points": ["300"],
            "goodwill-reason": ["delivery_delay"],
            "goodwill-note": ["Late"],
        }
    )

    first = client.post(act_url(ticket, "goodwill"), data)
    second = client.post(act_url(ticket, "goodwill"), data)  # the same form again

    assert first.status_code == second.status_code == 302
    assert messages_of(first) == ["Goodwill of 300 points posted to the member."]
    assert GoodwillAdjustment.objects.count() == 1
    (entry,) = ticket_entries(member)
    assert (entry.points, entry.source_ref) == (300, ticket.reference)
    assert assert_ledger_consistent(member).points_balance == 1300
    assert 'id="member-balance">1300 Points' in client.get(page_url(ticket)).content.decode()


def test_goodwill_over_the_threshold_waits_for_a_senior_who_posts_it_once(client, desk):
    ticket, member = desk["ticket"], desk["member"]
    response = submit(
        client,
        ticket,
        "goodwill-form",
        **{"goodwill-points": "800", "goodwill-reason": "complaint", "goodwill-note": "Big miss"},
    )
    assert messages_of(response) == ["Goodwill of 800 points waits for a senior agent's approval."]
    adjustment = GoodwillAdjustment.objects.get()
    assert adjustment.status == GoodwillStatus.PENDING_APPROVAL
    assert ticket_entries(member) == []
    # The agent has no approve button; a POST is refused.
    assert f'id="approve-form-{adjustment.pk}"' not in client.get(page_url(ticket)).content.decode()
    assert (
        client.post(act_url(ticket, "goodwill_approve"), {"adjustment": adjustment.pk}).status_code
        == 403
    )

    client.force_login(senior_make())
    page = client.get(page_url(ticket))
    data = form_data(page, f"approve-form-{adjustment.pk}")
    approved = client.post(act_url(ticket, "goodwill_approve"), data)
    again = client.post(act_url(ticket, "goodwill_approve"), data)

    assert approved.status_code == again.status_code == 302
    adjustment.refresh_from_db()
    assert adjustment.status == GoodwillStatus.POSTED
    assert len(ticket_entries(member)) == 1
    assert assert_ledger_consistent(member).points_balance == 1800


def test_a_senior_cannot_approve_their_own_goodwill(client, desk):
    ticket, member = desk["ticket"], desk["member"]
    senior = senior_make()
    client.force_login(senior)
    submit(
        client,
        ticket,
        "goodwill-form",
        **{"goodwill-points": "900", "goodwill-reason": "complaint", "goodwill-note": "Mine"},
    )
    adjustment = GoodwillAdjustment.objects.get()
    assert f'id="approve-form-{adjustment.pk}"' not in client.get(page_url(ticket)).content.decode()

    response = client.post(act_url(ticket, "goodwill_approve"), {"adjustment": adjustment.pk})

    assert messages_of(response) == ["Another agent must decide on goodwill you requested."]
    adjustment.refresh_from_db()
    assert adjustment.status == GoodwillStatus.PENDING_APPROVAL
    assert ticket_entries(member) == []


def test_a_senior_rejects_with_a_reason(client, desk):
    ticket = desk["ticket"]
    pending = goodwill.goodwill_request(
        ticket=ticket,
        points=700,
        reason="other",
        note="ask",
        key=uuid.uuid4(),
        actor=Actor.staff(desk["agent"]),
    )
    client.force_login(senior_make())
    empty = client.post(
        act_url(ticket, "goodwill_reject"), {"reject-adjustment": pending.pk, "reject-note": ""}
    )
    assert empty.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).goodwill.get().status == GoodwillStatus.PENDING_APPROVAL
    response = submit(
        client,
        ticket,
        f"reject-form-{pending.pk}",
        "goodwill_reject",
        **{"reject-note": "Not warranted"},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.decision_note) == (GoodwillStatus.REJECTED, "Not warranted")


def test_goodwill_over_the_velocity_limit_is_refused_on_the_form(client, desk):
    ticket, member = desk["ticket"], desk["member"]
    CareSettings.objects.filter(merchant=desk["merchant"]).update(goodwill_max_per_30_days=1)
    goodwill.goodwill_request(
        ticket=ticket,
        points=10,
        reason="other",
        note="once",
        key=uuid.uuid4(),
        actor=Actor.staff(desk["agent"]),
    )
    response = submit(
        client,
        ticket,
        "goodwill-form",
        **{"goodwill-points": "10", "goodwill-reason": "other", "goodwill-note": "twice"},
    )
    assert response.status_code == 200
    assert (
        "already has 1 goodwill credit(s) in the last 30 days; the limit is 1"
        in response.content.decode()
    )
    assert GoodwillAdjustment.objects.count() == 1
    assert len(ticket_entries(member)) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"goodwill-points": "0"},
        {"goodwill-points": "-50"},
        {"goodwill-points": "ten"},
        {"goodwill-reason": "bribe"},
        {"goodwill-note": ""},
        {"goodwill-key": "not-a-key"},
    ],
)
def test_bad_goodwill_input_is_a_form_error_and_changes_nothing(client, desk, changes):
    valid = {"goodwill-points": "10", "goodwill-reason": "other", "goodwill-note": "ok"}
    response = submit(client, desk["ticket"], "goodwill-form", **{**valid, **changes})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not GoodwillAdjustment.objects.exists()
    assert ticket_entries(desk["member"]) == []


def test_the_goodwill_list_approves_and_rejects_for_seniors_only(client, desk):
    ticket = desk["ticket"]

    def ask(points: int) -> GoodwillAdjustment:
        return goodwill.goodwill_request(
            ticket=ticket,
            points=points,
            reason="other",
            note="ask",
            key=uuid.uuid4(),
            actor=Actor.staff(desk["agent"]),
        )

    first, second = ask(600), ask(700)
    listing = client.get(GOODWILL)
    assert listing.status_code == 200
    assert b"approve_selected" not in listing.content
    client.post(
        GOODWILL, {"action": "approve_selected", "_selected_action": [first.pk], "apply": "1"}
    )
    assert GoodwillAdjustment.objects.get(pk=first.pk).status == GoodwillStatus.PENDING_APPROVAL

    client.force_login(senior_make())
    assert b"approve_selected" in client.get(GOODWILL).content
    confirm = client.post(GOODWILL, {"action": "approve_selected", "_selected_action": [first.pk]})
    assert confirm.status_code == 200  # asks first
    done = client.post(
        GOODWILL, {"action": "approve_selected", "_selected_action": [first.pk], "apply": "1"}
    )
    assert done.status_code == 302
    decide = reverse("admin:customercare_goodwilladjustment_decide", args=[second.pk, "reject"])
    assert (
        client.get(
            reverse("admin:customercare_goodwilladjustment_change", args=[second.pk])
        ).status_code
        == 200
    )
    assert client.post(decide, {"note": "", "apply": "1"}).status_code == 200  # a note is needed
    assert client.post(decide, {"note": "No", "apply": "1"}).status_code == 302
    assert GoodwillAdjustment.objects.get(pk=first.pk).status == GoodwillStatus.POSTED
    assert GoodwillAdjustment.objects.get(pk=second.pk).status == GoodwillStatus.REJECTED
    assert len(ticket_entries(desk["member"])) == 1


# -- the linked reward -----------------------------------------------------------------------------


@pytest.fixture
def rewarded(desk):
    """Ana's delivered gift card, and her ticket about it."""
    sandbox_reset()
    merchant, member = desk["merchant"], desk["member"]
    points_give(member, 5000)
    redemption = redemption_delivered(merchant, member)
    ticket = ticket_open(member, category=TicketCategory.REWARD_NOT_RECEIVED, redemption=redemption)
    yield ticket, redemption
    sandbox_reset()


def test_resend_the_reward_from_the_page(client, desk, rewarded):
    ticket, redemption = rewarded
    page = client.get(page_url(ticket)).content.decode()
    assert 'id="resend-form"' in page
    assert reverse("admin:fulfillment_redemption_change", args=[redemption.pk]) in page
    assert redemption.get_delivery_status_display() in page
    assert 'id="reissue-form"' not in page  # agents resend; seniors reissue
    sent = len(mail.outbox)

    response = client.post(act_url(ticket, "resend"))

    assert response.status_code == 302
    assert messages_of(response) == ["The delivery email went to the member again."]
    assert len(mail.outbox) == sent + 1
    assert mail.outbox[-1].to == ["ana@example.com"]
    assert redemption.events.filter(field="delivery", actor=desk["agent"]).exists()


def test_reissue_needs_its_own_right_and_a_reason(client, desk, rewarded):
    ticket, redemption = rewarded
    for user in (desk["agent"], senior_make()):  # approving goodwill is not reissuing
        client.force_login(user)
        refused = client.post(act_url(ticket, "reissue"), {"reissue-reason": "dead code"})
        assert refused.status_code == 403
        assert "reissue-form" not in client.get(page_url(ticket)).content.decode()
    assert Redemption.objects.filter(reissue_of=redemption).count() == 0

    lead = senior_make()
    lead.user_permissions.add(Permission.objects.get(codename="reissue_reward"))
    client.force_login(lead)
    empty = submit(client, ticket, "reissue-form", **{"reissue-reason": ""})
    assert empty.status_code == 200
    assert Redemption.objects.filter(reissue_of=redemption).count() == 0
    response = submit(client, ticket, "reissue-form", **{"reissue-reason": "The code was dead"})

    assert response.status_code == 302
    new = Redemption.objects.get(reissue_of=redemption)
    assert messages_of(response) == [
        f"Redemption #{redemption.pk} voided and ordered again as #{new.pk}."
    ]
    redemption.refresh_from_db()
    assert redemption.voided_at is not None
    again = client.post(act_url(ticket, "reissue"), {"reissue-reason": "twice"})
    assert again.status_code == 200
    assert "reissued already" in again.content.decode()
    assert Redemption.objects.filter(reissue_of=redemption).count() == 1


# -- attachments -----------------------------------------------------------------------------------


def test_attachment_download_for_staff_who_may_see_the_ticket(client, desk):
    member = desk["member"]
    upload = SimpleUploadedFile("photo.png", PNG, content_type="text/html")
    ticket = ticket_open(member, attachments=[upload])
    attachment = ticket.messages.get().attachments.get()
    url = reverse("admin:customercare_ticket_attachment", args=[ticket.pk, attachment.pk])
    assert url.encode() in client.get(page_url(ticket)).content

    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"  # from the bytes, not the sender's claim
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="photo.png"' in response["Content-Disposition"]
    # Through another ticket's address it does not exist.
    other = desk["ticket"]
    wrong = reverse("admin:customercare_ticket_attachment", args=[other.pk, attachment.pk])
    assert client.get(wrong).status_code == 404

    client.force_login(staff_in("Fulfillment"))
    assert client.get(url).status_code == 403


# -- permissions -----------------------------------------------------------------------------------


def test_staff_of_another_group_get_403_everywhere(client, desk):
    ticket = desk["ticket"]
    client.force_login(staff_in("Fulfillment"))
    assert client.get(TICKETS).status_code == 403
    assert client.get(page_url(ticket)).status_code == 403
    assert client.post(act_url(ticket, "reply"), {"reply-body": "hi"}).status_code == 403
    assert client.post(act_url(ticket, "take")).status_code == 403
    assert client.get(GOODWILL).status_code == 403
    assert not TicketMessage.objects.filter(body="hi").exists()
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_operations_see_tickets_but_do_not_work_them(client, desk):
    ticket = desk["ticket"]
    client.force_login(staff_in("Operations"))
    page = client.get(page_url(ticket))
    assert page.status_code == 200
    content = page.content.decode()
    assert 'id="reply-form"' not in content
    assert 'id="goodwill-form"' not in content
    assert client.post(act_url(ticket, "reply"), {"reply-body": "hi"}).status_code == 403
    assert client.post(act_url(ticket, "goodwill"), {}).status_code == 403
    assert client.post(page_url(ticket), {"subject": "edited"}).status_code == 405
    assert not TicketMessage.objects.filter(body="hi").exists()


def test_a_get_changes_nothing_and_unknown_actions_do_not_exist(client, desk):
    ticket = desk["ticket"]
    assert client.get(act_url(ticket, "take")).status_code == 405
    assert client.post(act_url(ticket, "delete")).status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


# -- reference pages -------------------------------------------------------------------------------


def test_every_care_page_loads_for_a_superuser(admin_client, desk):
    for model in (
        "ticket",
        "goodwilladjustment",
        "slapolicy",
        "businesscalendar",
        "cannedreply",
        "agentprofile",
        "caresettings",
        "faqentry",
        "programterms",
    ):
        changelist = reverse(f"admin:customercare_{model}_changelist")
        assert admin_client.get(changelist).status_code == 200, model
        if model not in ("ticket", "goodwilladjustment"):
            assert (
                admin_client.get(reverse(f"admin:customercare_{model}_add")).status_code == 200
            ), model
    assert admin_client.get(page_url(desk["ticket"])).status_code == 200
    assert admin_client.get(reverse("admin:app_list", args=["customercare"])).status_code == 200


def test_an_agent_adds_a_canned_reply_in_two_languages(client, desk):
    add = reverse("admin:customercare_cannedreply_add")
    response = client.post(
        add,
        {
            "merchant": "",
            "title": "Thanks",
            "is_active": "on",
            "body_en": "Thank you {member_name}",
            "body_fr": "Merci {member_name}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    reply = CannedReply.objects.get(title="Thanks")
    assert (reply.body_en, reply.body_fr, reply.merchant) == (
        "Thank you {member_name}",
        "Merci {member_name}",
        None,
    )


def test_terms_in_force_are_read_only(admin_client, desk):
    merchant = desk["merchant"]
    terms = ProgramTerms.objects.create(
        merchant=merchant,
        version=1,
        effective_on=timezone.localdate() - datetime.timedelta(days=1),
        body="Old terms",
        is_published=True,
    )
    url = reverse("admin:customercare_programterms_change", args=[terms.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="body_en"' not in page.content
    admin_client.post(url, {"body_en": "Rewritten", "version": "1"})
    terms.refresh_from_db()
    assert terms.body_en == "Old terms"


# -- query counts ----------------------------------------------------------------------------------


def test_list_and_queue_query_counts_do_not_grow_with_tickets(
    client, desk, django_assert_max_num_queries
):
    # Session, user, the two permission queries, the assignee and merchant filters, the
    # count and the page.
    member = desk["member"]
    for _ in range(3):
        ticket_open(member)
    client.get(TICKETS)
    with django_assert_max_num_queries(8) as few:
        assert client.get(TICKETS).status_code == 200
    for _ in range(25):
        ticket_open(member_of(care_merchant(), 0, email="many@example.com"))
    for params in ({}, {"queue": "due"}, {"queue": "due", "assignee": "mine"}):
        with django_assert_max_num_queries(len(few)):
            response = client.get(TICKETS, params)
        assert response.status_code == 200
    assert len(listed(client.get(TICKETS))) == 29


def test_ticket_page_query_count_does_not_grow_with_the_thread(
    client, desk, django_assert_max_num_queries
):
    ticket, agent = desk["ticket"], desk["agent"]
    CannedReply.objects.create(title="One", body="{member_name}")
    ticket_open(desk["member"])  # a ticket to merge into: the merge menu is drawn
    client.get(page_url(ticket))
    # Session, user, the ticket, two permission queries, the program, canned replies,
    # messages and their attachments, goodwill, care settings, history, the goodwill
    # count, merge targets (checked, then drawn), orders, ledger, redemptions, agents.
    with django_assert_max_num_queries(19) as few:
        assert client.get(page_url(ticket)).status_code == 200
    for i in range(8):
        services.ticket_reply(
            ticket=ticket,
            body=f"note {i}",
            internal=bool(i % 2),
            actor=Actor.staff(agent),
            attachments=[SimpleUploadedFile(f"p{i}.png", PNG, "image/png")],
        )
        if i < 3:
            goodwill.goodwill_request(
                ticket=ticket,
                points=600 + i,
                reason="other",
                note="x",
                key=uuid.uuid4(),
                actor=Actor.staff(agent),
            )
        CannedReply.objects.create(title=f"Reply {i}", body="{points_balance}")
    services.ticket_set_priority(ticket=ticket, priority="high", actor=Actor.staff(agent))
    with django_assert_max_num_queries(len(few)):
        response = client.get(page_url(ticket))
    assert response.status_code == 200
    # The first message, eight replies and notes, and the three goodwill notes.
    assert response.content.count(b'class="care-message') == 12


def test_the_page_renders_for_every_kind_of_ticket(client, desk):
    """Claims with and without their order, a merged ticket, a resolved one: each page
    renders (the template never reaches through a missing link)."""
    member = desk["member"]
    order_post(member.merchant, member, "20.00", external_id="W-77")
    found = ticket_open(member, category="missing_points", order_external_id="W-77")
    missing = ticket_open(member, category="missing_points", order_external_id="NOPE")
    reward = ticket_open(member, category="reward_not_received")
    merged = ticket_open(member)
    services.ticket_merge(ticket=merged, into=reward, actor=Actor.staff(desk["agent"]))
    done = services.ticket_move(
        ticket=ticket_open(member), to="resolved", actor=Actor.staff(desk["agent"])
    )
    for ticket, text in (
        (found, "W-77 (found)"),
        (missing, "NOPE (not found)"),
        (reward, "The member has no redemptions."),
        (merged, reward.reference),
        (done, "Resolved"),
    ):
        response = client.get(page_url(ticket))
        assert response.status_code == 200, ticket
        assert text in response.content.decode()


def test_a_senior_who_may_not_see_tickets_cannot_act_on_one(client, desk):
    """The page's actions re-render the ticket on a refusal: acting needs the right to
    see the ticket as well as the action's own."""
    ticket = desk["ticket"]
    services.ticket_reply(
        ticket=ticket,
        body="Internal: VIP, be kind",
        internal=True,
        actor=Actor.staff(desk["agent"]),
    )
    lead = staff_in("Care leads")  # approve_goodwill, but not in Customer care
    client.force_login(lead)
    assert client.get(page_url(ticket)).status_code == 403
    for action in ("goodwill_reject", "goodwill_approve", "reissue"):
        response = client.post(act_url(ticket, action), {})
        assert response.status_code == 403, action
        assert b"VIP, be kind" not in response.content
