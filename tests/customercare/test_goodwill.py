"""Goodwill from a ticket through its services: posted at once up to the merchant's
threshold, above it only after a senior agent (never the requester) approves; the same
form key posts once; the velocity limit refuses with a clear message; every posting lands
in the ledger exactly once, with the ticket as its source. The PostgreSQL cases race real
threads on the same adjustment and the same key."""

import datetime
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError
from django.utils import timezone

from core.actors import SYSTEM, Actor
from customercare import goodwill, services
from customercare.exceptions import GoodwillRefused, InvalidTicketInput
from customercare.models import (
    CareSettings,
    GoodwillAdjustment,
    GoodwillStatus,
    MessageKind,
    TicketStatus,
)
from customercare.services import ticket_move
from loyalty.models import LedgerEntry
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.loyalty.factories import assert_ledger_consistent
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

Source = LedgerEntry.Source


def senior_make(**kwargs):
    user = agent_make(**kwargs)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="customercare", codename="approve_goodwill")
    )
    return type(user).objects.get(pk=user.pk)  # a fresh object: no stale permission cache


def goodwill_entries(member) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(member=member, source_type=Source.TICKET))


def request(ticket, agent, points=100, *, key=None, reason="delivery_delay", note="Late card"):
    return goodwill.goodwill_request(
        ticket=ticket,
        points=points,
        reason=reason,
        note=note,
        key=key or uuid.uuid4(),
        actor=Actor.staff(agent),
    )


@pytest.fixture
def care(db):
    """A merchant whose goodwill needs approval above 500 points, up to 3 a month."""
    merchant = care_merchant()
    CareSettings.objects.create(
        merchant=merchant, goodwill_approval_threshold=500, goodwill_max_per_30_days=3
    )
    member = member_of(merchant, 1000)
    return merchant, member, ticket_open(member), agent_make()


# -- threshold ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_at_the_threshold_it_posts_at_once_with_the_ticket_as_source(care):
    _, member, ticket, agent = care
    adjustment = request(ticket, agent, 500)

    assert adjustment.status == GoodwillStatus.POSTED
    assert adjustment.decided_by is None
    (entry,) = goodwill_entries(member)
    assert adjustment.ledger_entry == entry
    assert (entry.points, entry.kind, entry.source_ref) == (500, "adjust", ticket.reference)
    assert entry.actor == agent
    # The agent's note stays on the ticket; the ledger, which stores read, names the
    # ticket and the reason only.
    assert "Late card" not in entry.reason
    assert entry.reason == f"Goodwill on {ticket.reference} (Reward delivery delayed)"
    assert assert_ledger_consistent(member).points_balance == 1500
    note = ticket.messages.filter(kind=MessageKind.INTERNAL, author=agent).last()
    assert "500 Points" in note.body
    assert "Posted" in note.body


@pytest.mark.django_db
def test_above_the_threshold_it_waits_and_posts_nothing(care):
    _, member, ticket, agent = care
    adjustment = request(ticket, agent, 501)

    assert adjustment.status == GoodwillStatus.PENDING_APPROVAL
    assert adjustment.ledger_entry is None
    assert goodwill_entries(member) == []
    assert assert_ledger_consistent(member).points_balance == 1000
    assert "approval" in ticket.messages.filter(kind=MessageKind.INTERNAL).last().body


@pytest.mark.django_db
def test_a_senior_approves_and_it_lands_in_the_ledger_exactly_once(care):
    _, member, ticket, agent = care
    senior = senior_make()
    pending = request(ticket, agent, 800)

    approved = goodwill.goodwill_approve(adjustment=pending, actor=Actor.staff(senior))
    again = goodwill.goodwill_approve(
        adjustment=pending, actor=Actor.staff(senior)
    )  # a double click

    assert approved.status == again.status == GoodwillStatus.POSTED
    assert (approved.decided_by, again.ledger_entry_id) == (senior, approved.ledger_entry_id)
    (entry,) = goodwill_entries(member)
    assert (entry.points, entry.actor, entry.source_ref) == (800, senior, ticket.reference)
    assert assert_ledger_consistent(member).points_balance == 1800
    assert ticket.messages.filter(kind=MessageKind.INTERNAL, author=senior).count() == 1
    with pytest.raises(GoodwillRefused, match="Already decided"):
        goodwill.goodwill_approve(adjustment=pending, actor=Actor.staff(senior_make()))
    assert len(goodwill_entries(member)) == 1


@pytest.mark.django_db
def test_the_requester_cannot_approve_their_own_even_as_a_senior(care):
    _, member, ticket, _ = care
    senior = senior_make()
    pending = request(ticket, senior, 900)

    with pytest.raises(GoodwillRefused, match="Another agent"):
        goodwill.goodwill_approve(adjustment=pending, actor=Actor.staff(senior))
    with pytest.raises(GoodwillRefused, match="Another agent"):
        goodwill.goodwill_reject(adjustment=pending, actor=Actor.staff(senior), note="mine")

    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (GoodwillStatus.PENDING_APPROVAL, None)
    assert goodwill_entries(member) == []
    # The database refuses it too.
    with pytest.raises(IntegrityError):
        GoodwillAdjustment.objects.filter(pk=pending.pk).update(decided_by=senior)


@pytest.mark.django_db
def test_only_a_senior_approves_or_rejects(care):
    _, member, ticket, agent = care
    pending = request(ticket, agent, 900)
    colleague = agent_make()
    with pytest.raises(GoodwillRefused, match="senior"):
        goodwill.goodwill_approve(adjustment=pending, actor=Actor.staff(colleague))
    with pytest.raises(GoodwillRefused, match="senior"):
        goodwill.goodwill_reject(adjustment=pending, actor=Actor.staff(colleague), note="no")
    with pytest.raises(GoodwillRefused):
        goodwill.goodwill_approve(adjustment=pending, actor=SYSTEM)
    pending.refresh_from_db()
    assert pending.status == GoodwillStatus.PENDING_APPROVAL
    assert goodwill_entries(member) == []


@pytest.mark.django_db
def test_reject_needs_a_reason_posts_nothing_and_cannot_be_approved_after(care):
    _, member, ticket, agent = care
    senior = senior_make()
    pending = request(ticket, agent, 900)
    with pytest.raises(InvalidTicketInput):
        goodwill.goodwill_reject(adjustment=pending, actor=Actor.staff(senior), note="  ")

    rejected = goodwill.goodwill_reject(
        adjustment=pending, actor=Actor.staff(senior), note="Too much"
    )

    assert (rejected.status, rejected.decided_by, rejected.decision_note) == (
        GoodwillStatus.REJECTED,
        senior,
        "Too much",
    )
    with pytest.raises(GoodwillRefused):
        goodwill.goodwill_approve(adjustment=pending, actor=Actor.staff(senior))
    assert goodwill_entries(member) == []
    assert "Too much" in ticket.messages.filter(author=senior).get().body


# -- the same key twice ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_key_twice_returns_the_first_and_posts_once(care):
    _, member, ticket, agent = care
    key = uuid.uuid4()
    first = request(ticket, agent, 200, key=key)
    second = request(ticket, agent, 200, key=str(key))  # the form posts it as text

    assert second.pk == first.pk
    assert GoodwillAdjustment.objects.count() == 1
    assert len(goodwill_entries(member)) == 1
    assert ticket.messages.filter(kind=MessageKind.INTERNAL, author=agent).count() == 1
    assert assert_ledger_consistent(member).points_balance == 1200
    with pytest.raises(GoodwillRefused, match="already submitted"):
        request(ticket, agent, 300, key=key)
    assert len(goodwill_entries(member)) == 1


@pytest.mark.django_db
def test_a_key_is_per_merchant(care):
    _, _, ticket, agent = care
    other = member_of(care_merchant(), 0)
    key = uuid.uuid4()
    request(ticket, agent, 10, key=key)
    theirs = request(ticket_open(other), agent, 10, key=key)
    assert theirs.merchant_id == other.merchant_id
    assert GoodwillAdjustment.objects.filter(key=key).count() == 2
    assert len(goodwill_entries(other)) == 1


# -- velocity ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_velocity_limit_counts_posted_and_pending_in_30_days(care):
    merchant, member, ticket, agent = care
    senior = senior_make()
    CareSettings.objects.filter(merchant=merchant).update(goodwill_max_per_30_days=2)
    request(ticket, agent, 100)
    pending = request(ticket, agent, 700)

    with pytest.raises(GoodwillRefused, match="already has 2 goodwill credit") as refused:
        request(ticket, agent, 50)
    assert "the limit is 2" in refused.value.detail
    assert GoodwillAdjustment.objects.count() == 2
    assert len(goodwill_entries(member)) == 1

    # A rejected one frees its place, and so does one older than 30 days.
    goodwill.goodwill_reject(adjustment=pending, actor=Actor.staff(senior), note="No")
    request(ticket, agent, 50)
    with pytest.raises(GoodwillRefused):
        request(ticket, agent, 50)
    GoodwillAdjustment.objects.filter(status=GoodwillStatus.POSTED).update(
        created_at=timezone.now() - datetime.timedelta(days=31)
    )
    assert request(ticket, agent, 50).status == GoodwillStatus.POSTED
    assert assert_ledger_consistent(member).points_balance == 1000 + 100 + 50 + 50


@pytest.mark.django_db
def test_the_velocity_limit_is_per_member(care):
    merchant, _, ticket, agent = care
    CareSettings.objects.filter(merchant=merchant).update(goodwill_max_per_30_days=1)
    request(ticket, agent, 10)
    sister = member_of(merchant, 0, email="eva@example.com")
    assert request(ticket_open(sister), agent, 10).status == GoodwillStatus.POSTED


# -- refusals that change nothing ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("points", {"points": 0}),
        ("points", {"points": -5}),
        ("points", {"points": True}),
        ("points", {"points": "10"}),
        ("points", {"points": 2**31}),
        ("reason", {"reason": "bribe"}),
        ("note", {"note": "   "}),
        ("note", {"note": "x" * 501}),
        ("key", {"key": "not-a-uuid"}),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(care, field, changes):
    _, member, ticket, agent = care
    arguments = {"points": 10, "reason": "other", "note": "ok", "key": uuid.uuid4(), **changes}
    with pytest.raises(InvalidTicketInput) as error:
        goodwill.goodwill_request(ticket=ticket, actor=Actor.staff(agent), **arguments)
    assert error.value.field == field
    assert not GoodwillAdjustment.objects.exists()
    assert goodwill_entries(member) == []


@pytest.mark.django_db
def test_a_closed_ticket_or_no_agent_gets_no_goodwill(care):
    _, member, ticket, agent = care
    with pytest.raises(GoodwillRefused):
        request(ticket, None)
    ticket_move(ticket=ticket, to=TicketStatus.CLOSED, actor=Actor.staff(agent))
    with pytest.raises(GoodwillRefused, match="closed"):
        request(ticket, agent)
    assert not GoodwillAdjustment.objects.exists()
    assert goodwill_entries(member) == []


@pytest.mark.django_db
def test_the_database_refuses_a_posted_adjustment_without_its_entry(care):
    _, _, ticket, agent = care
    pending = request(ticket, agent, 900)
    with pytest.raises(IntegrityError):
        GoodwillAdjustment.objects.filter(pk=pending.pk).update(status=GoodwillStatus.POSTED)


# -- real concurrency (PostgreSQL) ---------------------------------------------------------------


def _race_setup(threshold: int = 500):
    merchant = care_merchant()
    CareSettings.objects.create(
        merchant=merchant, goodwill_approval_threshold=threshold, goodwill_max_per_30_days=10
    )
    member = member_of(merchant, 100)
    return member, ticket_open(member), agent_make()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_seniors_approving_at_once_post_once():
    member, ticket, agent = _race_setup()
    pending = request(ticket, agent, 900)
    seniors = [senior_make(), senior_make()]

    results = run_together(
        2,
        lambda i: goodwill.goodwill_approve(
            adjustment=GoodwillAdjustment.objects.get(pk=pending.pk), actor=Actor.staff(seniors[i])
        ),
    )

    assert len(oks(results)) == 1, results
    assert [type(error) for error in errors(results)] == [GoodwillRefused]
    assert len(goodwill_entries(member)) == 1
    assert assert_ledger_consistent(member).points_balance == 1000
    pending.refresh_from_db()
    assert pending.status == GoodwillStatus.POSTED
    assert pending.decided_by_id == oks(results)[0].decided_by_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_key_submitted_at_once_posts_once():
    member, ticket, agent = _race_setup()
    key = uuid.uuid4()

    results = run_together(4, lambda i: request(ticket, agent, 300, key=key))

    assert not errors(results), errors(results)
    assert len({adjustment.pk for adjustment in oks(results)}) == 1
    assert GoodwillAdjustment.objects.count() == 1
    assert len(goodwill_entries(member)) == 1
    assert assert_ledger_consistent(member).points_balance == 400
    assert ticket.messages.filter(kind=MessageKind.INTERNAL, author=agent).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_requests_at_once_never_pass_the_velocity_limit():
    member, ticket, agent = _race_setup()
    CareSettings.objects.filter(merchant=member.merchant).update(goodwill_max_per_30_days=2)

    results = run_together(5, lambda i: request(ticket, agent, 10))

    assert len(oks(results)) == 2, results
    assert all(isinstance(error, GoodwillRefused) for error in errors(results))
    assert len(goodwill_entries(member)) == 2
    assert assert_ledger_consistent(member).points_balance == 120


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_goodwill_and_replies_on_one_ticket_at_once_all_complete():
    # The ticket services lock the ticket, then its member; goodwill must never hold the
    # member while it waits for the ticket.
    member, ticket, agent = _race_setup()
    pending = [request(ticket, agent, 600 + i) for i in range(3)]
    seniors = [senior_make() for _ in range(3)]

    def work(i: int):
        if i < 3:
            return goodwill.goodwill_approve(
                adjustment=GoodwillAdjustment.objects.get(pk=pending[i].pk),
                actor=Actor.staff(seniors[i]),
            )
        if i < 5:
            return request(ticket, agent, 10)
        return services.ticket_reply(
            ticket=ticket, body=f"reply {i}", internal=False, actor=Actor.staff(agent)
        )

    results = run_together(8, work)

    assert not errors(results), errors(results)
    assert len(goodwill_entries(member)) == 5
    assert assert_ledger_consistent(member).points_balance == 100 + 600 + 601 + 602 + 10 + 10
    assert ticket.messages.filter(body__startswith="reply").count() == 3
