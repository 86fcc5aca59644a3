"""Delivery of a delivered redemption: the signed claim link and the delivery email.

``delivered`` builds a redemption the way a store makes one (sandbox supplier, points
spent through the service) and lets the dispatch job deliver it with SBX- codes; the
claim page and voucher tests use it too.
"""

import datetime
import io
import json
import re
import time
from decimal import Decimal

import pytest
from django.core import mail, signing
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from catalog.models import RewardType
from core.actors import Actor
from core.exceptions import InvalidTransition
from fulfillment.adapters.sandbox import sandbox_reset
from fulfillment.models import DeliveredCode, Redemption, RedemptionEvent
from fulfillment.services import delivery, dispatch, redemptions
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db
BASE_URL = "https://rewards.example.com"


def png_logo() -> ContentFile:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (200, 30, 60)).save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())


def delivered(
    *,
    locale: str = "en",
    member_email: str = "ana@example.com",
    recipient: dict | None = None,
    reward_type: str = RewardType.GIFT_CARD,
    deliver: bool = True,
    logo: bool = False,
    **reward_fields,
) -> Redemption:
    """A redemption of a 25 USD reward, delivered by the sandbox unless ``deliver=False``."""
    sandbox_reset()
    merchant, _ = merchant_with_program()
    supplier = SupplierFactory(adapter="sandbox", adapter_config=json.dumps({"seed": 7}))
    reward = RewardFactory(
        type=reward_type, denominations=["10", "25"], delivered_expiry_months=12, **reward_fields
    )
    if logo:
        reward.brand.logo.save("logo.png", png_logo())
    OfferFactory(reward=reward, supplier=supplier)
    select(merchant, reward, price_step=1)
    member_make(
        merchant,
        "cust-1",
        points=100_000,
        country="US",
        email=member_email,
        first_name="Ana",
        locale=locale,
    )
    redemption = redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id="cust-1",
            reward_id=reward.pk,
            value=Decimal("25"),
            recipient={"email": "ana@example.com"} if recipient is None else recipient,
        ),
        actor=Actor.system("test"),
    ).obj
    if deliver:
        assert dispatch.process_due(now=timezone.now()).delivered == 1
    redemption.refresh_from_db()
    return redemption


def the_code(redemption: Redemption) -> DeliveredCode:
    (code,) = DeliveredCode.objects.filter(redemption=redemption)
    return code


def delivery_events(redemption: Redemption) -> list[tuple[str, str, str]]:
    return [
        (event.from_value, event.to_value, event.source)
        for event in RedemptionEvent.objects.filter(redemption=redemption, field="delivery")
    ]


def bodies(message) -> str:
    return message.body + "".join(content for content, _ in message.alternatives)


# --- The claim token ---------------------------------------------------------------------


def test_a_claim_token_names_its_redemption():
    redemption = delivered()

    token = delivery.claim_token(redemption)

    assert delivery.redemption_from_token(token) == redemption
    assert token.split(":")[0] == str(redemption.public_id)  # the random id, nothing else
    # The token carries the second it was made: compare what it opens, not its text.
    url = delivery.claim_url(redemption, BASE_URL + "/")
    assert url.startswith(f"{BASE_URL}/claim/")
    assert url.endswith("/")
    assert delivery.redemption_from_token(url.removeprefix(f"{BASE_URL}/claim/")[:-1]) == redemption


def test_a_tampered_token_is_refused():
    redemption = delivered()
    token = delivery.claim_token(redemption)
    value, stamp, signature = token.split(":")
    changed = signature[:-1] + ("A" if signature[-1] != "A" else "B")

    for bad in (f"{value}:{stamp}:{changed}", token + "x", "nonsense", ""):
        with pytest.raises(delivery.ClaimLinkInvalid):
            delivery.redemption_from_token(bad)


def test_a_token_signed_with_another_salt_is_refused():
    redemption = delivered()
    token = signing.TimestampSigner(salt="something.else").sign(str(redemption.public_id))

    with pytest.raises(delivery.ClaimLinkInvalid):
        delivery.redemption_from_token(token)


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - (delivery.CLAIM_LINK_DAYS * 86400 + 60))


def test_an_expired_token_is_refused_and_says_so():
    redemption = delivered()
    old = _SignedLongAgo(salt=delivery.CLAIM_LINK_SALT).sign(str(redemption.public_id))

    with pytest.raises(delivery.ClaimLinkInvalid) as caught:
        delivery.redemption_from_token(old)

    assert caught.value.extra == {"expired": True}


def test_a_token_for_one_redemption_never_opens_another():
    first = delivered()
    second = delivered()
    token = delivery.claim_token(first)
    _, stamp, signature = token.split(":")

    assert delivery.redemption_from_token(token) == first
    with pytest.raises(delivery.ClaimLinkInvalid):
        delivery.redemption_from_token(f"{second.public_id}:{stamp}:{signature}")


# --- The delivery email ------------------------------------------------------------------


def test_the_email_is_sent_once_in_the_members_language_with_the_link_and_the_pdf():
    redemption = delivered(locale="fr-FR", name="Gift card", name_fr="Carte cadeau")
    code = the_code(redemption)

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )

    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert "Carte cadeau" in message.subject
    text, html = message.body, message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    assert "Carte cadeau" in text
    assert '<html lang="fr"' in html
    assert "25,00\xa0$US" in text  # French money format
    (token,) = set(re.findall(rf"{BASE_URL}/claim/([^/\s]+)/", text))
    assert delivery.redemption_from_token(token) == redemption
    assert f'href="{BASE_URL}/claim/{token}/"' in html
    assert code.code not in bodies(message)
    assert code.pin not in bodies(message)
    assert message.attachments == []  # the code travels only through the claim page
    redemption.refresh_from_db()
    assert redemption.delivery_status == "sent"
    assert delivery_events(redemption) == [("none", "sent", "system")]


def test_a_staff_resend_sends_again_and_records_it():
    redemption = delivered()
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, resend=True, actor=Actor.system("test")
    )

    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["ana@example.com"]
    redemption.refresh_from_db()
    assert redemption.delivery_status == "sent"
    assert delivery_events(redemption) == [("none", "sent", "system"), ("sent", "sent", "system")]


def test_a_resend_after_the_member_claimed_keeps_it_claimed():
    redemption = delivered()
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )
    delivery.claim_open(redemption=redemption, actor=Actor(kind="portal", name="member"))

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, resend=True, actor=Actor.system("test")
    )

    assert len(mail.outbox) == 2
    redemption.refresh_from_db()
    assert redemption.delivery_status == "claimed"


def test_a_reward_that_needs_email_goes_to_the_member_when_the_recipient_has_none():
    redemption = delivered(recipient={"email": "ana@example.com"}, member_email="m@example.com")
    Redemption.objects.filter(pk=redemption.pk).update(recipient={})
    redemption.refresh_from_db()

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )

    assert mail.outbox[0].to == ["m@example.com"]


def test_nothing_is_sent_when_there_is_no_address():
    redemption = delivered(recipient_fields=[], recipient={}, member_email="")

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )

    assert mail.outbox == []
    redemption.refresh_from_db()
    assert redemption.delivery_status == "none"


def test_a_donation_is_emailed_without_mentioning_a_voucher():
    redemption = delivered(reward_type=RewardType.DONATION)

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )

    (message,) = mail.outbox
    assert message.attachments == []
    assert "PDF" not in message.body


def test_a_redemption_not_delivered_is_not_emailed():
    redemption = delivered(deliver=False)

    with pytest.raises(InvalidTransition):
        delivery.delivery_email_send(
            redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
        )

    assert mail.outbox == []


def test_staff_resend_the_email_from_the_admin(admin_client):
    redemption = delivered()
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )
    mail.outbox.clear()
    response = admin_client.post(
        "/admin/fulfillment/redemption/",
        {"action": "resend_email", "_selected_action": [redemption.pk], "apply": "1"},
    )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert "/claim/" in message.body
    redemption.refresh_from_db()
    (event,) = redemption.events.filter(field="delivery", from_value="sent", to_value="sent")
    assert event.actor is not None


def test_a_delivery_whose_email_was_lost_is_emailed_by_the_scheduled_run():
    from fulfillment.tasks import process_supplier_orders

    redemption = delivered()
    Redemption.objects.filter(pk=redemption.pk).update(
        delivered_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    assert "1 delivery email(s)" in process_supplier_orders()["summary"]
    assert len(mail.outbox) == 1
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "sent"
    assert "0 delivery email(s)" in process_supplier_orders()["summary"]
