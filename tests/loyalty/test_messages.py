"""Member messages, one at a time: what is sent (headers, parts, brand, language), to
whom (skipped with a reason: no address, unsubscribed, blocked, erased, promotional
without consent), once per key, and the merchant's own templates (the sandbox that
refuses a template when it is saved)."""

import datetime
import re

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from loyalty.messages import content, services
from loyalty.messages.admin import MessageTemplateForm
from loyalty.models import (
    MemberMessage,
    MemberStatus,
    MessageCategory,
    MessageKind,
    MessageOptOut,
    MessageStatus,
    MessageTemplate,
)
from loyalty.services import members as member_services
from merchants.models import MerchantBrand
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
EXPIRING = {"points": 1200, "expires_on": datetime.date(2026, 12, 31)}


@pytest.fixture
def shop():
    merchant, _ = program_merchant(name="Northwind Rewards", points_name="Beans")
    MerchantBrand.objects.create(
        merchant=merchant,
        colour="#0f766e",
        sender_name="Northwind Coffee",
        shop_url="https://northwind.example/",
    )
    return merchant


def send(member, kind=MessageKind.POINTS_EXPIRING, key="expiring:2026-12-31:30", data=None):
    return services.message_send(
        member=member, kind=kind, key=key, data=EXPIRING if data is None else data, now=NOW
    )


def html_of(email) -> str:
    (alternative,) = email.alternatives
    assert alternative.mimetype == "text/html"
    return alternative.content


# -- what is sent ---------------------------------------------------------------------------


def test_an_expiry_warning_is_branded_with_both_parts_and_one_click_unsubscribe(shop):
    member = member_make(shop, email="ana@example.com", first_name="Ana", locale="en")

    message = send(member)

    assert message.status == MessageStatus.SENT
    assert message.sent_at == NOW
    (email,) = mail.outbox
    assert email.to == ["ana@example.com"]
    assert email.from_email == "Northwind Coffee <loyalty@localhost>"
    assert email.subject == "1,200 Beans expire on December 31, 2026"
    assert message.subject == email.subject
    unsubscribe = f"/m/{shop.slug}/messages/{message.token}/unsubscribe"
    assert email.extra_headers["List-Unsubscribe"] == f"<{settings.PUBLIC_BASE_URL}{unsubscribe}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Ana," in email.body
    assert "1,200 of your Beans expire on December 31, 2026." in email.body
    assert unsubscribe in email.body  # the visible link, in the text part
    html = html_of(email)
    assert unsubscribe in html  # and in the HTML part
    assert f"/m/{shop.slug}/messages/{message.token}/open" in html
    assert "#0f766e" in html  # the brand's colour
    assert 'dir="ltr"' in html
    assert "See the rewards" in html


def test_the_message_is_in_the_members_language_with_its_numbers_and_dates(shop):
    member = member_make(shop, email="zoe@example.com", first_name="Zoé", locale="fr-CA")

    message = send(member)

    assert message.locale == "fr"
    (email,) = mail.outbox
    assert email.subject == "1\u202f200 Beans expirent le 31 décembre 2026"
    assert "Bonjour Zoé," in email.body
    assert "Se désabonner de ces e-mails" in html_of(email)


def test_arabic_is_right_to_left(shop):
    member = member_make(shop, email="amal@example.com", first_name="Amal", locale="ar")

    send(member)

    html = html_of(mail.outbox[0])
    assert 'dir="rtl"' in html
    assert 'lang="ar"' in html


def test_a_locale_the_product_is_not_written_in_falls_back_to_english(shop):
    member = member_make(shop, email="sven@example.com", locale="sv-SE")

    message = send(member)

    assert message.locale == "en"
    assert mail.outbox[0].subject.endswith("expire on December 31, 2026")
    assert "Hello," in mail.outbox[0].body  # no first name: the plain greeting


def test_the_same_key_is_sent_once(shop):
    member = member_make(shop, email="ana@example.com")

    first = send(member)
    again = send(member)

    assert first is not None
    assert again is None
    assert len(mail.outbox) == 1
    assert MemberMessage.objects.filter(member=member).count() == 1


# -- whom it is not sent to -------------------------------------------------------------------


def test_a_member_without_an_email_address_is_skipped_with_the_reason(shop):
    member = member_make(shop)

    message = send(member)

    assert message.status == MessageStatus.SKIPPED
    assert message.skip_reason == "The member has no email address."
    assert mail.outbox == []


def test_an_unsubscribed_member_gets_no_later_message_of_that_kind_but_others(shop):
    member = member_make(shop, email="ana@example.com")
    first = send(member)
    services.message_opt_out(message=first, source="test")

    later = send(member, key="expiring:2027-01-31:30")
    other_kind = send(member, kind=MessageKind.TIER_REACHED, key="tier:1", data={"tier": "Gold"})

    assert later.status == MessageStatus.SKIPPED
    assert later.skip_reason == "The member unsubscribed from these messages."
    assert other_kind.status == MessageStatus.SENT
    assert len(mail.outbox) == 2


def test_promotional_messages_need_marketing_consent(shop):
    without = member_make(shop, email="no@example.com", marketing_consent=False)
    with_consent = member_make(shop, email="yes@example.com", marketing_consent=True)

    skipped = send(without, kind=MessageKind.WELCOME, key="welcome", data={})
    sent = send(with_consent, kind=MessageKind.WELCOME, key="welcome", data={})

    assert skipped.category == MessageCategory.MARKETING
    assert skipped.status == MessageStatus.SKIPPED
    assert skipped.skip_reason == "Promotional, and the member gave no marketing consent."
    assert sent.status == MessageStatus.SENT
    assert [email.to for email in mail.outbox] == [["yes@example.com"]]
    assert mail.outbox[0].subject == "Welcome to Northwind Rewards"


def test_unsubscribing_from_a_promotional_kind_withdraws_marketing_consent(shop):
    member = member_make(shop, email="yes@example.com", marketing_consent=True)
    welcome = send(member, kind=MessageKind.WELCOME, key="welcome", data={})

    services.message_opt_out(message=welcome, source="test")
    services.message_opt_out(message=welcome, source="test")  # twice changes nothing

    member.refresh_from_db()
    assert member.marketing_consent is False
    assert MessageOptOut.objects.filter(member=member, kind=MessageKind.WELCOME).count() == 1


def test_unsubscribing_from_an_account_message_keeps_marketing_consent(shop):
    member = member_make(shop, email="yes@example.com", marketing_consent=True)

    services.message_opt_out(message=send(member), source="test")

    member.refresh_from_db()
    assert member.marketing_consent is True


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (MemberStatus.BLOCKED, "The member is blocked."),
        (MemberStatus.ANONYMISED, "The member's personal data was erased."),
    ],
)
def test_blocked_and_erased_members_get_nothing(shop, status, reason):
    member = member_make(shop, email="ana@example.com")
    if status == MemberStatus.ANONYMISED:
        member = member_services.member_anonymise(merchant=shop, member=member)
    else:
        member.status = status
        member.save(update_fields=["status"])

    message = send(member)

    assert (message.status, message.skip_reason) == (MessageStatus.SKIPPED, reason)
    assert message.to_email == ""
    assert mail.outbox == []


def test_a_mail_server_failure_is_logged_and_not_sent_again(shop, settings):
    settings.EMAIL_BACKEND = "tests.loyalty.test_messages.RefusingBackend"
    member = member_make(shop, email="ana@example.com")

    message = send(member)
    again = send(member)

    assert message.status == MessageStatus.FAILED
    assert message.skip_reason.startswith("The mail server refused it")
    assert again is None


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")


# -- the merchant's templates ---------------------------------------------------------------


def template_make(merchant, **fields) -> MessageTemplate:
    values = {
        "kind": MessageKind.POINTS_EXPIRING,
        "locale": "en",
        "subject": "{{ member.first_name|default:'Hi' }}, your {{ points_name }} are leaving",
        "body": "{{ points }} {{ points_name }} go on {{ expiry_date }}.\n\n"
        "{% if member.first_name %}See you soon, {{ member.first_name }}!{% endif %}",
        **fields,
    }
    return MessageTemplate.objects.create(merchant=merchant, **values)


def test_an_active_merchant_template_overrides_the_builtin_wording_in_its_locale(shop):
    template_make(shop)
    english = member_make(shop, email="ana@example.com", first_name="Ana", locale="en")
    french = member_make(shop, email="zoe@example.com", first_name="Zoé", locale="fr")

    send(english)
    send(french)

    ours, builtin = mail.outbox
    assert ours.subject == "Ana, your Beans are leaving"
    assert "1,200 Beans go on December 31, 2026.\n\nSee you soon, Ana!" in ours.body
    assert "<p>See you soon, Ana!</p>" in html_of(ours)
    assert builtin.subject == "1\u202f200 Beans expirent le 31 décembre 2026"  # no fr template


def test_an_inactive_template_is_not_used(shop):
    template_make(shop, is_active=False)
    member = member_make(shop, email="ana@example.com", first_name="Ana")

    send(member)

    assert mail.outbox[0].subject == "1,200 Beans expire on December 31, 2026"


def test_a_template_field_is_escaped_in_the_html_part(shop):
    template_make(shop, body="Hi {{ member.first_name }}")
    member = member_make(shop, email="x@example.com", first_name="<b>Eve</b>")

    send(member)

    html = html_of(mail.outbox[0])
    assert "<b>Eve</b>" not in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html


def form_errors(merchant, **fields) -> dict:
    form = MessageTemplateForm(
        data={
            "merchant": merchant.pk,
            "kind": MessageKind.POINTS_EXPIRING,
            "locale": "en",
            "subject": "Your points",
            "body": "{{ points }} expire on {{ expiry_date }}.",
            "is_active": "on",
            **fields,
        }
    )
    form.is_valid()
    return form.errors


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"body": "{% if points %}never closed"}, "body", "cannot be read"),
        ({"body": "{{ member.email }}"}, "body", "{{ member.email }}, which is not a field"),
        ({"subject": "{{ points|safe }}"}, "subject", "the filter |safe"),
        ({"body": '{% include "base.html" %}'}, "body", "uses {% include %}"),
        ({"body": '{% extends "base.html" %}'}, "body", "uses {% extends %}"),
        ({"body": "{% load static %}{% static 'x' %}"}, "body", "cannot be read"),
        ({"body": "{% now 'Y' %}"}, "body", "uses {% now %}"),
        ({"body": "{{ member.first_name.upper }}"}, "body", "not a field"),
        ({"subject": "{% if tier %}{% endif %}"}, "subject", "empty once rendered"),
    ],
)
def test_a_template_that_would_not_render_as_it_should_is_refused_when_saved(
    shop, fields, field, says
):
    errors = form_errors(shop, **fields)

    assert list(errors) == [field]
    assert says in errors[field][0]


def test_a_template_within_the_sandbox_is_accepted(shop):
    assert form_errors(shop, subject="{{ member.first_name|title }}, {{ points }} left") == {}


def test_the_sandbox_reaches_no_model_whatever_the_context_holds():
    # The context is plain strings: even a lookup that the check let through finds nothing
    # of ours behind it.
    rendered = content.merchant_rendered(
        subject="{{ program }}", body="{{ member.first_name }}", values=content.sample_fields()
    )
    assert rendered.subject == "Rewards"
    assert rendered.paragraphs == ["Alex"]
    with pytest.raises(content.TemplateRefused):
        content.merchant_rendered(subject="{{ member }}", body="x", values={})


# -- the log ----------------------------------------------------------------------------------


def test_the_members_admin_page_lists_their_messages(shop, admin_client):
    member = member_make(shop, email="ana@example.com")
    send(member)
    services.message_opened(message=MemberMessage.objects.get(member=member), now=timezone.now())

    page = admin_client.get(f"/admin/loyalty/member/{member.pk}/change/?tab=consents")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Messages (newest first)" in text
    assert "1,200 Beans expire on December 31, 2026" in text


def test_the_template_preview_shows_both_parts_for_a_sample_member(shop, admin_client):
    template = template_make(shop, locale="de", subject="Hallo {{ member.first_name }}")

    page = admin_client.get(f"/admin/loyalty/messagetemplate/{template.pk}/preview/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Hallo Alex" in text  # the sample member
    assert "HTML part" in text
    assert "Text part" in text
    assert "Hallo Alex," in re.sub(r"\s+", " ", text)  # the greeting in German
    assert "Northwind Coffee" in text
    assert MemberMessage.objects.count() == 0  # nothing was sent or logged
    assert mail.outbox == []


def test_the_message_log_lists_and_filters(shop, admin_client):
    member = member_make(shop, email="ana@example.com")
    send(member)
    send(member_make(shop), key="expiring:x")

    sent = admin_client.get("/admin/loyalty/membermessage/?status__exact=sent")
    skipped = admin_client.get("/admin/loyalty/membermessage/?status__exact=skipped")

    assert sent.status_code == 200
    assert sent.content.decode().count("1,200 Beans expire") == 1
    assert skipped.content.decode().count("1,200 Beans expire") == 0


def test_the_admin_refuses_a_broken_template_with_the_reason(shop, admin_client):
    page = admin_client.post(
        "/admin/loyalty/messagetemplate/add/",
        {
            "merchant": shop.pk,
            "kind": MessageKind.POINTS_EXPIRING,
            "locale": "en",
            "subject": "Your {{ points_name }}",
            "body": "{{ member.email }} has {{ points }}",
            "is_active": "on",
        },
    )

    assert page.status_code == 200  # the form again, not a redirect
    assert "{{ member.email }}, which is not a field" in page.content.decode()
    assert not MessageTemplate.objects.exists()


def test_the_message_log_reads_a_fixed_number_of_queries(
    shop, admin_client, django_assert_max_num_queries
):
    for n in range(12):
        send(member_make(shop, email=f"m{n}@example.com"), key=f"expiring:{n}")
    admin_client.get("/admin/loyalty/membermessage/")  # the session and permissions cached

    with django_assert_max_num_queries(7):
        page = admin_client.get("/admin/loyalty/membermessage/")

    assert page.content.decode().count("/admin/loyalty/member/") >= 12  # each row links
    assert page.status_code == 200
