import datetime
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import Member
from merchants import invoices
from merchants.models import Invoice, Merchant, MerchantMembership, MonthlyReport
from tests.catalog.factories import merchant_with_program
from tests.loyalty.factories import member_make
from tests.merchants.factories import MerchantFactory, billing_profile_make, fee_plan_make
from tests.portals.factories import portal_user


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and used TOTP codes live in the cache: each test starts clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def merchant(db):
    return MerchantFactory(live=True, name="Acme Coffee")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(live=True, name="Bolt Bikes")


@dataclass
class Side:
    """One merchant of the pair with a team member in each role and one member."""

    merchant: Merchant
    owner: object
    analyst: object
    support: object
    member: Member

    def membership(self, role: str) -> MerchantMembership:
        return MerchantMembership.objects.get(merchant=self.merchant, role=role)

    def invoice(self) -> Invoice:
        """An issued invoice of March 2026 (a platform fee of 100 in the merchant's
        currency, 21 % tax)."""
        found = Invoice.objects.filter(merchant=self.merchant, number__gt="").first()
        if found is not None:
            return found
        fee_plan_make(self.merchant)
        billing_profile_make(self.merchant, legal_name=f"{self.merchant.name} BV")
        draft = invoices.invoice_draft(merchant=self.merchant, year=2026, month=3, actor=SYSTEM)
        return invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    def monthly_report(self) -> MonthlyReport:
        """A final report of last month (its PDF a stand-in: the tenancy is what is tested)."""
        month = (timezone.now().date().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
        report, _ = MonthlyReport.objects.get_or_create(
            merchant=self.merchant,
            month=month,
            defaults={
                "is_final": True,
                "pdf": b"%PDF-1.7 " + self.merchant.name.encode(),
                "pages": 1,
                "generated_at": timezone.now(),
                "generated_by": "test",
            },
        )
        return report


def side(name: str, member_id: str, email: str) -> Side:
    merchant, program = merchant_with_program()
    merchant.name = name
    merchant.save(update_fields=["name"])
    program.points_name = "Stars"
    program.save(update_fields=["points_name"])
    return Side(
        merchant=merchant,
        owner=portal_user(merchant, "owner"),
        analyst=portal_user(merchant, "analyst"),
        support=portal_user(merchant, "support"),
        member=member_make(merchant, member_id, points=120, email=email),
    )


@pytest.fixture
def pair(db) -> tuple[Side, Side]:
    """Two merchants, A and B, each with a team and a member, nothing shared."""
    return (
        side("Alpha Apparel", "alpha-cust-1", "alice@alpha.example"),
        side("Beta Books", "beta-cust-1", "bob@beta.example"),
    )
