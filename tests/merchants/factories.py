import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.actors import SYSTEM
from core.staff_groups import staff_groups_sync
from merchants import invoices
from merchants.models import BillingProfile, ChecklistItem, Merchant, MerchantStatus, Scope
from merchants.services import api_keys, billing, lifecycle


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pass-word-123")


class StaffFactory(UserFactory):
    is_staff = True


def staff_in(*groups: str):
    """A staff user in the named staff groups (synced first, as a migration leaves them)."""
    staff_groups_sync()
    found = list(Group.objects.filter(name__in=groups))
    assert len(found) == len(groups), f"No such staff group among {groups}"
    user = StaffFactory()
    user.groups.add(*found)
    return user


class MerchantFactory(factory.Factory):
    """Builds merchants through ``merchant_create`` so each has its checklist and history.
    ``live=True`` walks it through the whole onboarding."""

    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    country = "US"
    default_currency = "USD"
    timezone_name = "UTC"

    @classmethod
    def _create(cls, model_class, *, live: bool = False, **kwargs):
        merchant = lifecycle.merchant_create(actor=SYSTEM, **kwargs)
        if live:
            make_live(merchant)
        return merchant

    _build = _create


def complete_checklist(merchant: Merchant) -> None:
    for item in ChecklistItem.values:
        lifecycle.checklist_item_complete(merchant=merchant, item=item, actor=SYSTEM)


def make_live(merchant: Merchant) -> Merchant:
    for step in (MerchantStatus.IN_REVIEW, MerchantStatus.APPROVED):
        lifecycle.merchant_transition(
            merchant=merchant, to_status=step, reason="test", actor=SYSTEM
        )
    complete_checklist(merchant)
    lifecycle.merchant_transition(
        merchant=merchant, to_status=MerchantStatus.LIVE, reason="test", actor=SYSTEM
    )
    return merchant


def issue_key(merchant: Merchant, scopes=(Scope.READ, Scope.WRITE), **kwargs):
    return api_keys.api_key_issue(
        merchant=merchant,
        name=kwargs.pop("name", "test key"),
        scopes=scopes,
        actor=SYSTEM,
        **kwargs,
    )


# -- billing -----------------------------------------------------------------------------


def fee_plan_make(
    merchant: Merchant,
    *,
    valid_from=None,
    currency: str | None = None,
    monthly: str = "100",
    per_member: str = "0",
    per_redemption: str = "0",
    margin: str = "0",
):
    return billing.fee_plan_create(
        merchant=merchant,
        valid_from=valid_from or datetime.date(2026, 1, 1),
        currency=currency,
        monthly_platform_fee=Decimal(monthly),
        fee_per_active_member=Decimal(per_member),
        fee_per_redemption=Decimal(per_redemption),
        reward_margin_percent=Decimal(margin),
        actor=SYSTEM,
    )


def billing_profile_make(merchant: Merchant, **fields):
    values = {
        "legal_name": f"{merchant.name} Ltd",
        "address": "1 Main Street\n10001 Springfield",
        "country": "NL",
        "tax_id": "",
        "is_business": True,
        "tax_rate_percent": Decimal("21"),
        "invoice_email": "billing@example.com",
        **fields,
    }
    return invoices.billing_profile_save(
        profile=BillingProfile(merchant=merchant, **values), changed=[], actor=SYSTEM
    )


def usage_post(merchant: Merchant, kind: str, source_ref: str, occurred_at, **fields):
    plan = merchant.fee_plans.order_by("-valid_from").first()
    return billing.usage_record_post(
        merchant=merchant,
        kind=kind,
        source_ref=source_ref,
        occurred_at=occurred_at,
        currency=fields.pop("currency", plan.currency if plan else merchant.default_currency),
        reward_value=Decimal(fields.pop("reward_value", "0")),
        **fields,
    )
