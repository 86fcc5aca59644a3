"""Care emails: to the member on a public reply and on resolution, in their language with
the link to their ticket page; never an internal note; to agents in English. Each is a
row first and sent by a task after the commit; a failed send is sent by the sweep, a sent
one never again."""

from urllib.parse import urlsplit

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import resolve

from core.actors import Actor
from customercare import links, services, tasks
from customercare.models import CareNotification, NotificationKind, TicketMessage, TicketStatus
from customercare.notifications import notification_queue, render
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def agent():
    return agent_make()


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Run ``work`` and the tasks its commit queues (as a worker would, right after)."""

    def run(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return run


def reply(ticket, agent, body="We credited 120 points.", **kwargs):
    return services.ticket_reply(
        ticket=ticket, body=body, internal=False, actor=Actor.staff(agent), **kwargs
    )


def link_in(body: str) -> str:
    (url,) = [word for word in body.split() if "/care/t/" in word]
    return url


def test_a_reply_reaches_a_french_member_in_french_with_a_link_to_their_ticket(
    agent, send, mailoutbox
):
    member = member_of(care_merchant(), email="camille@example.com", locale="fr-FR")
    ticket = ticket_open(member)
    send(lambda: reply(ticket, agent, body="Vos 120 points ont été crédités."))

    (email,) = mailoutbox
    merchant = member.merchant.name
    assert email.to == ["camille@example.com"]
    assert email.subject == f"{merchant} : une réponse à votre demande {ticket.reference}"
    assert email.body.startswith("Bonjour Ana,")
    assert f"Le service client de {merchant} a répondu à votre demande {ticket.reference}" in (
        email.body
    )
    assert "Vos 120 points ont été crédités." in email.body
    assert "Merci de répondre sur cette page" in email.body
    assert "&" not in email.body  # plain text, not HTML-escaped

    url = link_in(email.body)
    path = urlsplit(url).path
    match = resolve(path)
    assert match.view_name == "care:ticket"
    assert links.ticket_from_token(match.kwargs["token"]) == ticket
    other = ticket_open(member)
    assert links.ticket_from_token(match.kwargs["token"]) != other


@pytest.mark.parametrize("locale", ["", "xx", "zh-Hant", "en-GB"])
def test_a_member_whose_language_is_not_translated_reads_english(agent, send, mailoutbox, locale):
    member = member_of(care_merchant(), locale=locale)
    ticket = ticket_open(member)
    send(lambda: reply(ticket, agent))
    (email,) = mailoutbox
    assert email.subject == f"{member.merchant.name}: a reply to your request {ticket.reference}"
    assert email.body.startswith("Hello Ana,")
    assert "We credited 120 points." in email.body
    assert "/care/t/" in email.body


@pytest.mark.parametrize(
    ("locale", "greeting", "resolved"),
    [
        ("fr", "Bonjour Ana,", "est résolue"),
        ("de-AT", "Hallo Ana,", "ist erledigt"),
        ("es", "Hola, Ana:", "está resuelta"),
        ("it", "Ciao Ana,", "è stata risolta"),
        ("nl", "Hallo Ana,", "is afgehandeld"),
        ("pt-BR", "Olá, Ana,", "foi resolvido"),
        ("ja", "Ana 様", "は解決済みです"),
        ("ar", "مرحبًا Ana،", "تمت معالجة طلبك"),
    ],
)
def test_the_resolution_email_is_translated(agent, send, mailoutbox, locale, greeting, resolved):
    member = member_of(care_merchant(), locale=locale)
    ticket = ticket_open(member)
    send(
        lambda: services.ticket_move(
            ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent)
        )
    )
    (email,) = mailoutbox
    assert resolved in email.subject
    assert ticket.reference in email.subject
    assert member.merchant.name in email.subject
    assert email.body.startswith(greeting)
    assert ticket.reference in email.body
    assert links.ticket_from_token(resolve(urlsplit(link_in(email.body)).path).kwargs["token"]) == (
        ticket
    )
    assert "request" not in email.body


def test_a_member_without_a_first_name_is_greeted_plainly(agent, send, mailoutbox):
    member = member_of(care_merchant())
    member.first_name = ""
    member.save()
    ticket = ticket_open(member)
    send(
        lambda: services.ticket_move(
            ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent)
        )
    )
    (email,) = mailoutbox
    assert email.body.startswith("Hello,\n")
    assert email.subject.endswith(f"your request {ticket.reference} is resolved")


def test_internal_notes_are_never_emailed(agent, send, mailoutbox):
    member = member_of(care_merchant(), locale="fr")
    ticket = ticket_open(member)
    send(
        lambda: services.ticket_reply(
            ticket=ticket,
            body="Member looks like a fraudster.",
            internal=True,
            actor=Actor.staff(agent),
        )
    )
    assert mailoutbox == []
    assert not CareNotification.objects.exists()

    send(lambda: reply(ticket, agent, body="All sorted."))
    send(
        lambda: services.ticket_move(
            ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent)
        )
    )
    assert len(mailoutbox) == 2
    assert not any("fraudster" in email.body for email in mailoutbox)


def test_a_member_email_never_carries_an_internal_note_even_when_asked_to(agent):
    member = member_of(care_merchant())
    ticket = ticket_open(member)
    note = services.ticket_reply(
        ticket=ticket, body="Secret note", internal=True, actor=Actor.staff(agent)
    )
    assert (
        notification_queue(
            ticket=ticket, kind=NotificationKind.REPLY, key="reply:forced", message=note
        )
        is None
    )
    # A row written around the service still renders without the note.
    row = CareNotification.objects.create(
        ticket=ticket,
        kind=NotificationKind.REPLY,
        key="reply:bypass",
        to=["a@example.com"],
        message=note,
    )
    assert "Secret note" not in render(row).body


def test_a_member_without_an_email_address_gets_no_notification(agent, send, mailoutbox):
    member = member_of(care_merchant(), email="")
    ticket = ticket_open(member)
    send(lambda: reply(ticket, agent))
    assert mailoutbox == []
    assert not CareNotification.objects.exists()


def test_each_reply_is_its_own_email_and_each_resolution_too(agent, send, mailoutbox):
    member = member_of(care_merchant())
    ticket = ticket_open(member)
    send(lambda: reply(ticket, agent, body="First."))
    send(lambda: reply(ticket, agent, body="Second.", then=TicketStatus.RESOLVED))
    send(
        lambda: services.ticket_member_message(
            ticket=ticket, body="Not fixed.", actor=Actor.member()
        )
    )
    send(
        lambda: services.ticket_move(
            ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent)
        )
    )
    kinds = list(CareNotification.objects.values_list("kind", flat=True))
    assert kinds == ["reply", "reply", "resolved", "resolved"]
    assert len(mailoutbox) == 4
    assert "Second." in mailoutbox[1].body
    assert "First." not in mailoutbox[1].body


def test_a_failed_send_is_sent_by_the_sweep_and_a_sent_one_is_never_sent_again(
    agent, send, mailoutbox, settings
):
    member = member_of(care_merchant())
    ticket = ticket_open(member)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    send(lambda: reply(ticket, agent))
    notification = CareNotification.objects.get()
    assert notification.sent_at is None
    assert notification.tries == 1
    assert "mail server down" in notification.last_error
    assert mailoutbox == []

    tasks.sweep.delay()  # still down
    notification.refresh_from_db()
    assert (notification.tries, notification.sent_at) == (2, None)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tasks.sweep.delay()
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert (notification.tries, notification.last_error) == (3, "")
    assert len(mailoutbox) == 1

    tasks.sweep.delay()
    result = tasks.send_care_notification.delay(notification.pk).get()
    assert result.endswith("not sent")
    assert len(mailoutbox) == 1


def test_agent_emails_are_in_english_with_the_back_office_link(agent, send, mailoutbox):
    member = member_of(care_merchant(), locale="fr")
    ticket = ticket_open(member, subject="Où sont mes points ?")
    for kind in (NotificationKind.AT_RISK, NotificationKind.UNASSIGNED):
        send(
            lambda kind=kind: notification_queue(
                ticket=ticket, kind=kind, key=f"{kind}:test", to=[agent.email]
            )
        )
    at_risk, unassigned = mailoutbox
    assert at_risk.subject == f"[SLA at risk] {ticket.reference}: Où sont mes points ?"
    assert "is at risk of missing its SLA" in at_risk.body
    assert "has no assignee" in unassigned.body
    for email in (at_risk, unassigned):
        assert email.to == [agent.email]
        assert member.merchant.name in email.body
        assert "Priority:   Normal" in email.body
        assert "First response due:" in email.body
        assert f"/admin/customercare/ticket/{ticket.pk}/change/" in email.body
        assert "Bonjour" not in email.body
        assert "/care/t/" not in email.body  # the member's link is not for agents
        assert "I bought shoes" not in email.body  # nor the member's words


def test_a_notification_key_is_written_once(agent):
    ticket = ticket_open(member_of(care_merchant()))
    first = notification_queue(
        ticket=ticket, kind=NotificationKind.AT_RISK, key="same", to=[agent.email]
    )
    again = notification_queue(
        ticket=ticket, kind=NotificationKind.AT_RISK, key="same", to=["other@example.com"]
    )
    assert first is not None
    assert again is None
    assert list(CareNotification.objects.values_list("to", flat=True)) == [[agent.email]]
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1


def test_a_notification_is_sent_only_after_its_transaction_commits(
    agent, django_capture_on_commit_callbacks, mailoutbox
):
    ticket = ticket_open(member_of(care_merchant()))
    with django_capture_on_commit_callbacks() as callbacks:
        notification = notification_queue(
            ticket=ticket, kind=NotificationKind.AT_RISK, key="after-commit", to=[agent.email]
        )
        assert mailoutbox == []
    assert len(callbacks) == 1
    callbacks[0]()  # the commit: the task named by the enqueue module runs (eager here)
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert [email.to for email in mailoutbox] == [[agent.email]]
