"""Delete my account: the member asks (one open request), ops approve (the member is
anonymised, the ledger kept whole, their archives deleted) or reject with a reason; each
move goes through one transition with its event row, and the member is told once."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from core.actors import Actor
from core.exceptions import InvalidTransition
from core.staff_groups import staff_groups_sync
from customercare import account_deletion, tasks
from customercare.account_deletion import (
    account_deletion_approve,
    account_deletion_reject,
    account_deletion_request,
    account_deletion_transition,
)
from customercare.exceptions import DeletionAlreadyRequested, PrivacyRequestRefused
from customercare.member_data_requests import member_data_request
from customercare.models import (
    AccountDeletionEvent,
    AccountDeletionRequest,
    DataExportStatus,
    DeletionStatus,
)
from loyalty.models import LedgerEntry, MemberStatus
from tests.customercare.factories import care_merchant, member_of
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.factories import assert_ledger_consistent, order_post
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db
MEMBER = Actor.member()


@pytest.fixture
def member():
    member = member_of(care_merchant(), 3000, email="ana@example.com", locale="de")
    order_post(member.merchant, member, "42.50")
    redemption_delivered(member.merchant, member)
    member.refresh_from_db()
    return member


@pytest.fixture
def lead():
    staff_groups_sync()
    user = StaffFactory(username="lead")
    user.groups.add(*Group.objects.filter(name__in=["Customer care", "Care leads"]))
    return user


def asked(member, reason="I no longer shop here."):
    return account_deletion_request(
        merchant=member.merchant, member=member, reason=reason, actor=MEMBER
    )


def moves(request) -> list[tuple[str, str]]:
    return [(e.from_status, e.to_status) for e in request.events.order_by("pk")]


def test_asking_again_while_one_waits_is_refused_and_writes_nothing(member):
    first = asked(member)

    with pytest.raises(DeletionAlreadyRequested) as refused:
        asked(member, reason="Please hurry")

    assert refused.value.status == 409
    assert AccountDeletionRequest.objects.filter(member=member).count() == 1
    first.refresh_from_db()
    assert first.status == DeletionStatus.REQUESTED
    assert first.reason == "I no longer shop here."
    assert moves(first) == [("", "requested")]
    assert first.events.get().source == "member"


def test_after_a_rejection_the_member_may_ask_again(member, lead):
    first = asked(member)
    account_deletion_reject(request=first, reason="Orders still open", actor=Actor.staff(lead))

    second = asked(member, reason="Now please")

    assert second.pk != first.pk
    assert second.status == DeletionStatus.REQUESTED


def test_the_database_holds_one_waiting_request_a_member(member):
    from django.db import IntegrityError, transaction

    asked(member)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountDeletionRequest.objects.create(merchant=member.merchant, member=member)


def test_approving_anonymises_the_member_and_keeps_the_ledger(
    member, lead, django_capture_on_commit_callbacks, mailoutbox
):
    entries = LedgerEntry.objects.filter(member=member).count()
    balance = member.points_balance
    request = asked(member)

    with django_capture_on_commit_callbacks(execute=True):
        account_deletion_approve(request=request, note="ID checked", actor=Actor.staff(lead))

    member.refresh_from_db()
    assert member.status == MemberStatus.ANONYMISED
    assert (member.email, member.first_name, member.locale) == ("", "", "")
    assert LedgerEntry.objects.filter(member=member).count() == entries
    assert assert_ledger_consistent(member).points_balance == balance
    request.refresh_from_db()
    assert request.status == DeletionStatus.DONE
    assert (request.decided_by, request.decision_note) == (lead, "ID checked")
    assert request.decided_at is not None
    assert moves(request) == [("", "requested"), ("requested", "approved"), ("approved", "done")]
    assert request.events.get(to_status="approved").actor == lead

    (email,) = mailoutbox
    assert email.to == ["ana@example.com"]  # kept for this email only
    assert "gelöscht" in email.subject
    assert email.alternatives[0][1] == "text/html"
    assert (request.notify_email, request.emailed_at is not None) == ("", True)


def test_approving_deletes_the_members_data_archives(
    member, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = member_data_request(member=member, actor=MEMBER)
    export.refresh_from_db()
    storage, name = export.file.storage, export.file.name
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        account_deletion_approve(request=asked(member), actor=Actor.staff(lead))

    export.refresh_from_db()
    assert export.status == DataExportStatus.EXPIRED
    assert not storage.exists(name)


def test_rejecting_records_why_and_tells_the_member(
    member, lead, django_capture_on_commit_callbacks, mailoutbox
):
    request = asked(member)

    with django_capture_on_commit_callbacks(execute=True):
        account_deletion_reject(
            request=request, reason="Your redemption is still on its way.", actor=Actor.staff(lead)
        )

    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert member.email == "ana@example.com"
    request.refresh_from_db()
    assert request.status == DeletionStatus.REJECTED
    assert request.decision_note == "Your redemption is still on its way."
    event = request.events.get(to_status="rejected")
    assert (event.actor, event.note) == (lead, "Your redemption is still on its way.")
    (email,) = mailoutbox
    assert "Your redemption is still on its way." in email.body
    assert email.to == ["ana@example.com"]


def test_a_rejection_needs_a_reason(member, lead):
    request = asked(member)

    with pytest.raises(PrivacyRequestRefused):
        account_deletion_reject(request=request, reason="  ", actor=Actor.staff(lead))

    request.refresh_from_db()
    assert request.status == DeletionStatus.REQUESTED


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("requested", "done"),
        ("rejected", "approved"),
        ("done", "rejected"),
        ("approved", "rejected"),
        ("done", "requested"),
    ],
)
def test_illegal_moves_are_refused_and_write_nothing(member, lead, start, to):
    request = asked(member)
    AccountDeletionRequest.objects.filter(pk=request.pk).update(status=start)
    request.refresh_from_db()

    with pytest.raises(InvalidTransition):
        account_deletion_transition(request=request, to=to, actor=Actor.staff(lead))

    request.refresh_from_db()
    assert request.status == start
    assert AccountDeletionEvent.objects.filter(request=request).count() == 1


def test_a_request_decided_meanwhile_is_not_decided_again(member, lead):
    request = asked(member)
    stale = AccountDeletionRequest.objects.get(pk=request.pk)
    account_deletion_reject(request=request, reason="No", actor=Actor.staff(lead))

    with pytest.raises(InvalidTransition):
        account_deletion_approve(request=stale, actor=Actor.staff(lead))

    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE


def test_the_decision_email_is_sent_once(member, lead, mailoutbox):
    request = asked(member)
    account_deletion_reject(request=request, reason="No", actor=Actor.staff(lead))  # no commit

    assert account_deletion.account_deletions_unsent() == [request.pk]
    tasks.sweep()
    tasks.account_deletion_notify(request.pk)

    assert len(mailoutbox) == 1
    assert account_deletion.account_deletions_unsent() == []


def test_an_erased_member_may_not_ask(member, lead):
    account_deletion_approve(request=asked(member), actor=Actor.staff(lead))
    member.refresh_from_db()

    with pytest.raises(PrivacyRequestRefused):
        asked(member)
    with pytest.raises(PrivacyRequestRefused):
        member_data_request(member=member, actor=MEMBER)


def test_another_merchants_member_is_refused(member):
    other = care_merchant()

    with pytest.raises(PrivacyRequestRefused):
        account_deletion_request(merchant=other, member=member, actor=MEMBER)


# -- the admin queue ----------------------------------------------------------------------


def staff_in(*groups: str):
    staff_groups_sync()
    user = StaffFactory()
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def test_the_queue_lists_waiting_requests_first(client, member, lead):
    decided = asked(member_of(member.merchant, email="ben@example.com"))
    account_deletion_reject(request=decided, reason="No", actor=Actor.staff(lead))
    waiting = asked(member)
    client.force_login(staff_in("Operations"))

    response = client.get(reverse("admin:customercare_accountdeletionrequest_changelist"))

    assert response.status_code == 200
    listed = [row.pk for row in response.context["cl"].result_list]
    assert listed == [waiting.pk, decided.pk]
    page = client.get(
        reverse("admin:customercare_accountdeletionrequest_change", args=[decided.pk])
    )
    assert page.status_code == 200
    assert "requested → rejected" in page.content.decode()


@pytest.mark.parametrize(
    ("groups", "may"),
    [
        (["Operations"], True),
        (["Customer care", "Care leads"], True),
        (["Customer care"], False),
        (["Finance"], False),
        (["Marketing"], False),
    ],
)
def test_only_those_who_may_anonymise_approve(
    client, member, groups, may, django_capture_on_commit_callbacks
):
    request = asked(member)
    client.force_login(staff_in(*groups))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:customercare_accountdeletionrequest_changelist"),
            {"action": "approve_selected", "_selected_action": [request.pk], "apply": "1"},
        )

    request.refresh_from_db()
    member.refresh_from_db()
    if may:
        assert response.status_code == 302
        assert request.status == DeletionStatus.DONE
        assert member.status == MemberStatus.ANONYMISED
    else:
        assert response.status_code == 403
        assert request.status == DeletionStatus.REQUESTED
        assert member.status == MemberStatus.ACTIVE


def test_rejecting_from_the_admin_asks_for_the_reason(client, member):
    request = asked(member)
    client.force_login(staff_in("Operations"))
    url = reverse("admin:customercare_accountdeletionrequest_changelist")

    page = client.post(url, {"action": "reject_selected", "_selected_action": [request.pk]})
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    client.post(
        url,
        {
            "action": "reject_selected",
            "_selected_action": [request.pk],
            "apply": "1",
            "reason": "Open order",
        },
    )

    request.refresh_from_db()
    assert (request.status, request.decision_note) == (DeletionStatus.REJECTED, "Open order")


def test_each_merchants_requests_stay_apart(member):
    mine = asked(member)
    theirs = asked(member_of(care_merchant(), email="zoe@example.com"))

    assert account_deletion.account_deletion_open(merchant=member.merchant, member=member) == mine
    assert account_deletion.account_deletion_open(merchant=theirs.merchant, member=member) is None
