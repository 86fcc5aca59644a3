"""The demo's referrals: terms on every demo program and, for a live merchant, a friend
whose first order passed the pending period (both sides rewarded) and one flagged for a
review (the same device as the member who referred them)."""

import datetime
from decimal import Decimal

from django.utils import timezone

from core.actors import Actor
from core.money import quantize_money
from loyalty.models import Member, Program, ReferralTerms
from loyalty.referrals import qualify, services
from loyalty.services import members, orders

DEMO = Actor.system("demo")
PENDING_DAYS = 30


def referrals_make(program: Program, usd_rate: Decimal, *, with_referrals: bool) -> None:
    """Referral terms on ``program`` (a first order of $50 or more, in its currency); with
    ``with_referrals``, a qualified referral and a flagged one among its members."""
    currency = program.currency
    services.referral_terms_save(
        terms=ReferralTerms(
            program=program,
            advocate_points=500,
            friend_points=250,
            min_order_total=quantize_money(Decimal(50) * usd_rate, currency),
            pending_days=PENDING_DAYS,
            weekly_limit=10,
        ),
        actor=DEMO,
    )
    merchant = program.merchant
    advocate = Member.objects.filter(merchant=merchant).exclude(email="").order_by("pk").first()
    if not with_referrals or advocate is None:
        return
    code = services.referral_code_get_or_create(member=advocate).code
    services.referral_identity_note(member=advocate, device_id="demo-device-7f3a")
    placed_at = timezone.now() - datetime.timedelta(days=PENDING_DAYS + 5)
    orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id=f"demo-referred-{merchant.slug}",
            member_external_id=f"friend-of-{advocate.external_id}",
            member_fields={"first_name": "Noor", "email": f"noor@{merchant.slug}.example"},
            total=quantize_money(Decimal(80) * usd_rate, currency),
            currency=currency,
            placed_at=placed_at,
            referral=services.ReferralInput(code=code, device_id="demo-device-91bc"),
        ),
        actor=DEMO,
    )
    members.member_upsert(
        merchant=merchant,
        external_id=f"flatmate-of-{advocate.external_id}",
        fields={"first_name": "Kit", "email": f"kit@{merchant.slug}.example"},
        referral=services.ReferralInput(code=code, device_id="demo-device-7f3a"),
        actor=DEMO,
    )
    qualify.referrals_qualify(now=timezone.now(), merchant_id=merchant.pk)
