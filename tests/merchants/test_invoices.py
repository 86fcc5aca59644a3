"""Invoices from fee plans and usage records: the lines, the tax, drafting, the status
moves and the credit notes."""

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.exceptions import DomainError, InvalidTransition, NotFound, ReasonRequired
from core.schedules import declared_periodic_tasks
from merchants import invoices
from merchants.exceptions import (
    BillingProfileMissing,
    CreditExceedsInvoice,
    InvalidPeriod,
    NoFeePlan,
    UsageCurrencyMismatch,
)
from merchants.invoice_rules import REVERSE_CHARGE_NOTE, tax_terms
from merchants.models import (
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    MerchantEvent,
    UsageKind,
)
from merchants.selectors import invoice_get, invoice_list
from tests.merchants.factories import (
    MerchantFactory,
    StaffFactory,
    billing_profile_make,
    fee_plan_make,
    usage_post,
)

pytestmark = pytest.mark.django_db

YEAR = timezone.localdate().year


def at(year: int, month: int, day: int = 15, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=datetime.UTC)


def redemptions(merchant, month: int, *values: str, year: int = 2026) -> None:
    for index, value in enumerate(values):
        usage_post(
            merchant,
            UsageKind.REDEMPTION,
            f"r-{year}-{month}-{index}",
            at(year, month, 10 + index),
            reward_value=value,
        )


def active_members(merchant, month: int, count: int, year: int = 2026) -> None:
    usage_post(
        merchant,
        UsageKind.ACTIVE_MEMBERS,
        f"{year}-{month:02d}",
        at(year, month, 28),
        quantity=count,
    )


def lines_of(invoice: Invoice) -> list[tuple[str, Decimal, Decimal]]:
    return [(line.code, line.quantity, line.amount) for line in invoice.lines.all()]


# -- the lines, in three exponents ------------------------------------------------------------


def test_a_yen_invoice_has_whole_yen_on_every_line_and_total():
    merchant = MerchantFactory(default_currency="JPY", country="JP")
    fee_plan_make(
        merchant, currency="JPY", monthly="60000", per_member="2", per_redemption="30", margin="9"
    )
    billing_profile_make(merchant, country="JP", tax_rate_percent=Decimal("10"))
    active_members(merchant, 3, 1234)
    redemptions(merchant, 3, "1000", "2500", "333")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert lines_of(invoice) == [
        ("platform_fee", 1, Decimal("60000")),
        ("active_members", 1234, Decimal("2468")),
        ("redemptions", 3, Decimal("90")),
        ("reward_value", 1, Decimal("3833")),
        ("reward_margin", 1, Decimal("345")),  # 344.97 rounded half-up
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("66736"),
        Decimal("6674"),  # 6673.6
        Decimal("73410"),
    )
    assert invoice.currency == "JPY"
    assert f"{invoice.total.normalize():f}" == "73410"
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.number == ""


def test_a_euro_invoice_rounds_each_line_to_the_cent_and_the_tax_once():
    merchant = MerchantFactory(default_currency="EUR", country="NL")
    fee_plan_make(
        merchant,
        currency="EUR",
        monthly="399.00",
        per_member="0.0120",
        per_redemption="0.20",
        margin="7.5",
    )
    billing_profile_make(merchant, country="NL", tax_rate_percent=Decimal("21"))
    active_members(merchant, 3, 1001)
    redemptions(merchant, 3, "25.00", "10.50")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert [amount for _, _, amount in lines_of(invoice)] == [
        Decimal("399.00"),
        Decimal("12.01"),  # 12.012
        Decimal("0.40"),
        Decimal("35.50"),
        Decimal("2.66"),  # 2.6625
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("449.57"),
        Decimal("94.41"),  # 94.4097
        Decimal("543.98"),
    )


def test_a_dinar_invoice_keeps_three_decimals():
    merchant = MerchantFactory(default_currency="KWD", country="KW")
    fee_plan_make(
        merchant,
        currency="KWD",
        monthly="100.000",
        per_member="0.0125",
        per_redemption="0.150",
        margin="8",
    )
    billing_profile_make(merchant, country="KW", tax_rate_percent=Decimal("0"))
    active_members(merchant, 3, 333)
    redemptions(merchant, 3, "12.345")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert [amount for _, _, amount in lines_of(invoice)] == [
        Decimal("100.000"),
        Decimal("4.163"),  # 4.1625 half-up
        Decimal("0.150"),
        Decimal("12.345"),
        Decimal("0.988"),  # 0.9876
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("117.646"),
        Decimal("0.000"),
        Decimal("117.646"),
    )


def test_a_month_without_usage_bills_the_platform_fee_alone():
    merchant = MerchantFactory()
    fee_plan_make(merchant, monthly="100.00", per_member="1", per_redemption="1", margin="5")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=2, actor=SYSTEM)

    assert lines_of(invoice) == [("platform_fee", 1, Decimal("100.00"))]
    assert invoice.total == Decimal("100.00")


def test_only_the_months_usage_is_billed_in_utc_days():
    merchant = MerchantFactory()
    fee_plan_make(merchant, per_redemption="1.00")
    last_second = datetime.datetime(2026, 3, 31, 23, 59, 59, tzinfo=datetime.UTC)
    next_month = datetime.datetime(2026, 4, 1, 0, 0, tzinfo=datetime.UTC)
    month_before = datetime.datetime(2026, 2, 28, 23, 59, 59, tzinfo=datetime.UTC)
    for ref, when in (("in", last_second), ("after", next_month), ("before", month_before)):
        usage_post(merchant, UsageKind.REDEMPTION, ref, when, reward_value="10")
    other = MerchantFactory()
    fee_plan_make(other)
    usage_post(other, UsageKind.REDEMPTION, "theirs", at(2026, 3), reward_value="99")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert ("redemptions", 1, Decimal("1.00")) in lines_of(invoice)
    assert ("reward_value", 1, Decimal("10.00")) in lines_of(invoice)


def test_usage_in_another_currency_than_the_plan_stops_the_draft():
    merchant = MerchantFactory()
    fee_plan_make(merchant, currency="USD")
    usage_post(merchant, UsageKind.REDEMPTION, "face", at(2026, 3), currency="GBP")

    with pytest.raises(UsageCurrencyMismatch, match="face"):
        invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
    assert not Invoice.objects.exists()


# -- which plan --------------------------------------------------------------------------------


def test_a_plan_change_bills_from_the_first_full_month_under_the_new_plan():
    merchant = MerchantFactory()
    fee_plan_make(merchant, valid_from=datetime.date(2026, 1, 1), monthly="100")
    fee_plan_make(merchant, valid_from=datetime.date(2026, 4, 15), monthly="250")

    def fee(month: int) -> Decimal:
        invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=month, actor=SYSTEM)
        return invoice.lines.get(code="platform_fee").amount

    assert fee(3) == Decimal("100.00")
    assert fee(4) == Decimal("100.00")  # in force on 1 April
    assert fee(5) == Decimal("250.00")


def test_a_merchants_first_month_uses_the_plan_that_starts_within_it():
    merchant = MerchantFactory()
    fee_plan_make(merchant, valid_from=datetime.date(2026, 6, 10), monthly="80")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=6, actor=SYSTEM)

    assert invoice.total == Decimal("80.00")
    with pytest.raises(NoFeePlan):
        invoices.invoice_draft(merchant=merchant, year=2026, month=5, actor=SYSTEM)


@pytest.mark.parametrize(
    ("year", "month"), [(2026, 13), (2026, 0), ("x", 1), (YEAR + 1, 1), (YEAR, 12)]
)
def test_drafting_a_month_that_does_not_exist_or_is_not_over_is_refused(year, month):
    merchant = MerchantFactory()
    fee_plan_make(merchant)
    today = timezone.localdate()
    if (year, month) == (YEAR, 12):
        year, month = today.year, today.month

    with pytest.raises(InvalidPeriod):
        invoices.invoice_draft(merchant=merchant, year=year, month=month, actor=SYSTEM)
    assert not Invoice.objects.exists()


# -- tax ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "business", "tax_id", "rate", "expected", "note"),
    [
        ("FR", True, "FR12345678901", "20", "0", REVERSE_CHARGE_NOTE),
        ("FR", False, "", "20", "20", ""),  # a consumer pays the VAT
        ("FR", True, "", "20", "20", ""),  # no VAT number, no reverse charge
        ("NL", True, "NL123456789B01", "21", "21", ""),  # the provider's own country
        ("US", True, "98-7654321", "0", "0", ""),  # outside the EU: the profile's rate
    ],
)
def test_tax_is_the_profiles_rate_unless_the_reverse_charge_applies(
    country, business, tax_id, rate, expected, note
):
    terms = tax_terms(
        customer_country=country,
        customer_is_business=business,
        customer_tax_id=tax_id,
        customer_rate_percent=Decimal(rate),
        provider_country="NL",
    )
    assert (terms.rate_percent, terms.note) == (Decimal(expected), note)


def test_an_issued_invoice_to_an_eu_business_abroad_carries_the_reverse_charge(settings):
    settings.PROVIDER_COUNTRY = "NL"
    merchant = MerchantFactory(default_currency="EUR", country="FR")
    fee_plan_make(merchant, currency="EUR", monthly="300.00")
    billing_profile_make(
        merchant, country="FR", tax_id="FR12345678901", tax_rate_percent=Decimal("20")
    )
    draft = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    assert (issued.tax_rate_percent, issued.tax, issued.total) == (0, 0, Decimal("300.00"))
    assert issued.tax_note == REVERSE_CHARGE_NOTE
    assert issued.customer_tax_id == "FR12345678901"


# -- drafting is idempotent -----------------------------------------------------------------


def test_drafting_again_rebuilds_the_draft_with_the_new_usage():
    merchant = MerchantFactory()
    fee_plan_make(merchant, per_redemption="2.00")
    redemptions(merchant, 3, "10")
    first = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
    usage_post(merchant, UsageKind.REDEMPTION, "late", at(2026, 3, 30), reward_value="5")

    again = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert again.pk == first.pk
    assert Invoice.objects.count() == 1
    assert ("redemptions", 2, Decimal("4.00")) in lines_of(again)
    assert again.total == Decimal("100.00") + Decimal("4.00") + Decimal("15.00")
    assert again.lines.count() == 3


def test_drafting_an_issued_month_returns_it_unchanged():
    merchant = MerchantFactory()
    fee_plan_make(merchant, per_redemption="2.00")
    billing_profile_make(merchant)
    issued = invoices.invoice_issue(
        invoice=invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM),
        actor=SYSTEM,
    )
    redemptions(merchant, 3, "10")

    again = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert again.pk == issued.pk
    assert (again.status, again.total, again.number) == (
        InvoiceStatus.ISSUED,
        issued.total,
        issued.number,
    )
    assert lines_of(again) == lines_of(issued)


def test_a_voided_month_can_be_drafted_afresh():
    merchant = MerchantFactory()
    fee_plan_make(merchant)
    billing_profile_make(merchant)
    draft = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
    voided = invoices.invoice_void(
        invoice=invoices.invoice_issue(invoice=draft, actor=SYSTEM), reason="wrong", actor=SYSTEM
    )

    fresh = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert fresh.pk != voided.pk
    assert fresh.status == InvoiceStatus.DRAFT


def test_drafting_calls_every_usage_collector_first(monkeypatch):
    merchant = MerchantFactory()
    fee_plan_make(merchant, per_member="0.50")
    monkeypatch.setattr(
        apps.get_app_config("merchants"),
        "billing_usage_collectors",
        "tests.merchants.test_invoices.collect_active_members",
        raising=False,
    )

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert ("active_members", 40, Decimal("20.00")) in lines_of(invoice)


def collect_active_members(*, merchant, period_start, period_end) -> None:
    """A collector as a later app declares one: it posts the month's usage it owes."""
    assert (period_start, period_end) == (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    usage_post(
        merchant,
        UsageKind.ACTIVE_MEMBERS,
        f"{period_start:%Y-%m}",
        at(period_start.year, period_start.month, 28),
        quantity=40,
    )


# -- the status moves ----------------------------------------------------------------------


@pytest.fixture
def draft():
    merchant = MerchantFactory(name="Acme")
    fee_plan_make(merchant, monthly="100.00")
    billing_profile_make(merchant, legal_name="Acme B.V.", tax_rate_percent=Decimal("21"))
    return invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)


def test_issuing_numbers_the_invoice_and_copies_the_profile(draft, settings):
    settings.INVOICE_PAYMENT_DAYS = 14
    staff = Actor.staff(StaffFactory(username="finance-anna"))

    issued = invoices.invoice_issue(invoice=draft, actor=staff)

    today = timezone.localdate()
    assert issued.status == InvoiceStatus.ISSUED
    assert issued.number == f"INV-{today.year}-000001"
    assert (issued.issued_on, issued.due_on) == (today, today + datetime.timedelta(days=14))
    assert (issued.customer_legal_name, issued.customer_country) == ("Acme B.V.", "NL")
    assert issued.provider_legal_name == settings.PROVIDER_LEGAL_NAME
    assert (issued.tax, issued.total) == (Decimal("21.00"), Decimal("121.00"))
    event = issued.events.last()
    assert (event.from_status, event.to_status, event.actor_label) == (
        InvoiceStatus.DRAFT,
        InvoiceStatus.ISSUED,
        "finance-anna",
    )


def test_an_issued_invoice_keeps_the_profile_it_was_issued_with(draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    profile = draft.merchant.billing_profile
    profile.legal_name = "Renamed Ltd"
    profile.tax_rate_percent = Decimal("9")
    invoices.billing_profile_save(profile=profile, changed=["legal_name"], actor=SYSTEM)

    issued.refresh_from_db()

    assert (issued.customer_legal_name, issued.tax) == ("Acme B.V.", Decimal("21.00"))
    assert MerchantEvent.objects.filter(
        merchant=draft.merchant, reason="Billing profile changed: legal_name"
    ).exists()


def test_issuing_without_a_billing_profile_is_refused_and_uses_no_number():
    merchant = MerchantFactory()
    fee_plan_make(merchant)
    draft = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
    with pytest.raises(BillingProfileMissing):
        invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, "")

    billing_profile_make(merchant)
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    assert issued.number.endswith("-000001")


def test_payment_then_nothing_more(draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    paid_on = timezone.localdate()

    paid = invoices.invoice_payment_record(
        invoice=issued, paid_on=paid_on, reference="SEPA-123", actor=SYSTEM
    )

    assert (paid.status, paid.paid_on, paid.payment_reference) == (
        InvoiceStatus.PAID,
        paid_on,
        "SEPA-123",
    )
    with pytest.raises(InvalidTransition):
        invoices.invoice_void(invoice=paid, reason="late", actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        invoices.invoice_payment_record(
            invoice=paid, paid_on=paid_on, reference="again", actor=SYSTEM
        )
    assert [(e.from_status, e.to_status) for e in paid.events.all()] == [
        ("", "draft"),
        ("draft", "issued"),
        ("issued", "paid"),
    ]


def test_void_says_why_and_is_final(draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    with pytest.raises(ReasonRequired):
        invoices.invoice_void(invoice=issued, reason="  ", actor=SYSTEM)

    voided = invoices.invoice_void(invoice=issued, reason="billed twice", actor=SYSTEM)

    assert voided.status == InvoiceStatus.VOID
    assert voided.events.last().reason == "billed twice"
    with pytest.raises(InvalidTransition):
        invoices.invoice_payment_record(
            invoice=voided, paid_on=timezone.localdate(), reference="x", actor=SYSTEM
        )
    with pytest.raises(InvalidTransition):
        invoices.credit_note_issue(invoice=voided, amount=Decimal(1), reason="x", actor=SYSTEM)


def test_a_draft_is_neither_paid_voided_nor_issued_twice(draft):
    with pytest.raises(InvalidTransition):
        invoices.invoice_payment_record(
            invoice=draft, paid_on=timezone.localdate(), reference="x", actor=SYSTEM
        )
    with pytest.raises(InvalidTransition):
        invoices.invoice_void(invoice=draft, reason="x", actor=SYSTEM)
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        invoices.invoice_issue(invoice=issued, actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        invoices.invoice_transition(invoice=issued, to_status="draft", actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        invoices.invoice_transition(invoice=issued, to_status="nonsense", actor=SYSTEM)
    assert Invoice.objects.get(pk=draft.pk).status == InvoiceStatus.ISSUED


@pytest.mark.parametrize(
    ("paid_on", "reference", "field"),
    [
        (datetime.date(2999, 1, 1), "ref", "paid_on"),
        (datetime.date(2000, 1, 1), "ref", "paid_on"),  # before the issue
        ("yesterday", "ref", "paid_on"),
        (None, "ref", "paid_on"),
        ("today", " ", "reference"),
    ],
)
def test_a_payment_with_bad_details_is_refused(draft, paid_on, reference, field):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    if paid_on == "today":
        paid_on = timezone.localdate()

    with pytest.raises(DomainError) as error:
        invoices.invoice_payment_record(
            invoice=issued, paid_on=paid_on, reference=reference, actor=SYSTEM
        )

    assert error.value.field == field
    assert Invoice.objects.get(pk=issued.pk).status == InvoiceStatus.ISSUED


# -- credit notes -----------------------------------------------------------------------------


def test_credit_notes_never_credit_more_than_is_left(draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)  # 100.00 + 21.00

    first = invoices.credit_note_issue(
        invoice=issued, amount=Decimal("33.33"), reason="goodwill", actor=SYSTEM
    )
    with pytest.raises(CreditExceedsInvoice, match=r"66\.67"):
        invoices.credit_note_issue(
            invoice=issued, amount=Decimal("66.68"), reason="too much", actor=SYSTEM
        )
    rest = invoices.credit_note_issue(
        invoice=issued, amount=Decimal("66.67"), reason="the rest", actor=SYSTEM
    )

    assert first.kind == InvoiceKind.CREDIT_NOTE
    assert first.credited_invoice == issued
    assert first.number == f"CN-{YEAR}-000001"
    assert rest.number == f"CN-{YEAR}-000002"
    assert (first.subtotal, first.tax, first.total) == (
        Decimal("33.33"),
        Decimal("7.00"),  # 6.9993
        Decimal("40.33"),
    )
    # the last credit takes exactly the tax left, so the invoice is credited to the cent
    assert rest.tax == Decimal("14.00")
    assert first.total + rest.total == issued.total
    assert first.customer_legal_name == issued.customer_legal_name
    with pytest.raises(CreditExceedsInvoice):
        invoices.credit_note_issue(
            invoice=issued, amount=Decimal("0.01"), reason="nothing left", actor=SYSTEM
        )
    with pytest.raises(InvalidTransition):
        invoices.invoice_void(invoice=issued, reason="credited already", actor=SYSTEM)


def test_a_paid_invoice_is_credited_by_lines():
    merchant = MerchantFactory()
    fee_plan_make(merchant, monthly="100.00")
    billing_profile_make(merchant, tax_rate_percent=Decimal("0"))
    issued = invoices.invoice_issue(
        invoice=invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM),
        actor=SYSTEM,
    )
    invoices.invoice_payment_record(
        invoice=issued, paid_on=timezone.localdate(), reference="r", actor=SYSTEM
    )

    note = invoices.credit_note_issue(
        invoice=issued,
        lines=[
            invoices.CreditLine(
                description="Outage credit", quantity=Decimal(3), unit_price=Decimal("2.50")
            )
        ],
        reason="outage",
        actor=SYSTEM,
    )

    assert [(line.description, line.amount) for line in note.lines.all()] == [
        ("Outage credit", Decimal("7.50"))
    ]
    assert note.status == InvoiceStatus.ISSUED
    assert Invoice.objects.get(pk=issued.pk).status == InvoiceStatus.PAID
    with pytest.raises(InvalidTransition):
        invoices.invoice_void(invoice=note, reason="x", actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        invoices.invoice_payment_record(
            invoice=note, paid_on=timezone.localdate(), reference="x", actor=SYSTEM
        )


def test_a_draft_is_not_credited(draft):
    with pytest.raises(InvalidTransition):
        invoices.credit_note_issue(invoice=draft, amount=Decimal(1), reason="x", actor=SYSTEM)
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


@pytest.mark.parametrize(
    ("amount", "lines", "reason", "error"),
    [
        (Decimal("-5"), None, "r", DomainError),
        (Decimal("0"), None, "r", DomainError),
        (Decimal("1.005"), None, "r", DomainError),  # finer than the cent
        (Decimal("NaN"), None, "r", DomainError),
        (None, None, "r", DomainError),
        (
            Decimal("1"),
            [invoices.CreditLine(description="x", quantity=1, unit_price=1)],
            "r",
            DomainError,
        ),
        (None, [invoices.CreditLine(description=" ", quantity=1, unit_price=1)], "r", DomainError),
        (Decimal("1"), None, "", ReasonRequired),
    ],
)
def test_a_credit_with_bad_input_is_refused_and_writes_nothing(draft, amount, lines, reason, error):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    with pytest.raises(error):
        invoices.credit_note_issue(
            invoice=issued, amount=amount, lines=lines, reason=reason, actor=SYSTEM
        )

    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


# -- numbering ------------------------------------------------------------------------------


def test_numbers_run_per_kind_and_year_without_gaps():
    numbers = []
    for index in range(3):
        merchant = MerchantFactory()
        fee_plan_make(merchant)
        draft = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
        if index == 1:  # a refused issue in between takes no number
            with pytest.raises(BillingProfileMissing):
                invoices.invoice_issue(invoice=draft, actor=SYSTEM)
        billing_profile_make(merchant)
        numbers.append(invoices.invoice_issue(invoice=draft, actor=SYSTEM).number)

    assert numbers == [f"INV-{YEAR}-00000{n}" for n in (1, 2, 3)]


# -- the portal's selectors ----------------------------------------------------------------


def test_the_portal_lists_issued_invoices_and_credit_notes_never_drafts(draft):
    merchant = draft.merchant
    fee_plan_make(merchant, valid_from=datetime.date(2026, 3, 15))
    april = invoices.invoice_draft(merchant=merchant, year=2026, month=4, actor=SYSTEM)
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    note = invoices.credit_note_issue(invoice=issued, amount=Decimal(1), reason="r", actor=SYSTEM)
    other = MerchantFactory()
    fee_plan_make(other)
    billing_profile_make(other)
    theirs = invoices.invoice_issue(
        invoice=invoices.invoice_draft(merchant=other, year=2026, month=3, actor=SYSTEM),
        actor=SYSTEM,
    )

    listed = list(invoice_list(merchant=merchant))

    assert set(listed) == {issued, note}
    assert invoice_get(merchant=merchant, public_id=issued.public_id) == issued
    assert invoice_get(merchant=merchant, public_id=str(note.public_id)) == note
    for missing in (theirs.public_id, april.public_id, "not-a-uuid", None, 12):
        with pytest.raises(NotFound):
            invoice_get(merchant=merchant, public_id=missing)


# -- the database holds ------------------------------------------------------------------------


def test_the_database_refuses_totals_that_do_not_add_up_and_edits_of_events(draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=draft.pk).update(total=Decimal("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceEvent.objects.filter(invoice=draft).update(reason="rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=draft.pk).update(status=InvoiceStatus.ISSUED)  # no number
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            merchant=draft.merchant,
            period_start=draft.period_start,
            period_end=draft.period_end,
            currency="USD",
        )


# -- the monthly job -------------------------------------------------------------------------


def test_the_monthly_job_drafts_last_month_for_live_merchants_once():
    live = MerchantFactory(live=True)
    fee_plan_make(live)
    no_plan = MerchantFactory(live=True)
    applied = MerchantFactory()
    fee_plan_make(applied)
    now = datetime.datetime(2026, 4, 1, 2, 30, tzinfo=datetime.UTC)

    first = invoices.invoices_draft_last_month(now=now, batch_size=1)
    second = invoices.invoices_draft_last_month(now=now, batch_size=1)

    assert (first.drafted, second.drafted) == (1, 1)
    (invoice,) = Invoice.objects.all()
    assert (invoice.merchant, invoice.period_start) == (live, datetime.date(2026, 3, 1))
    assert not Invoice.objects.filter(merchant__in=[no_plan, applied]).exists()
    assert invoice.events.first().actor_label == "draft_invoices"


def test_the_job_is_scheduled_monthly_and_runs_as_a_command(capsys):
    merchant = MerchantFactory(live=True, slug="acme")
    fee_plan_make(merchant)
    (spec,) = [s for s in declared_periodic_tasks() if s["task"] == "merchants.draft_invoices"]
    assert spec["crontab"].split()[2:] == ["1", "*", "*"]

    call_command("draft_invoices", "--merchant", "acme", "--now", "2026-05-01T00:00Z")

    assert "1 invoice(s) drafted" in capsys.readouterr().out
    assert Invoice.objects.get().period_start == datetime.date(2026, 4, 1)


def test_a_plan_without_unit_fees_bills_no_empty_lines():
    merchant = MerchantFactory()
    fee_plan_make(merchant, monthly="50.00")  # no per-member or per-redemption fee, no margin
    active_members(merchant, 3, 500)
    redemptions(merchant, 3, "12.00")

    invoice = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    assert lines_of(invoice) == [
        ("platform_fee", 1, Decimal("50.00")),
        ("reward_value", 1, Decimal("12.00")),
    ]


def test_the_database_refuses_changing_an_issued_invoice_or_its_lines(draft):
    Invoice.objects.filter(pk=draft.pk).update(tax_note="drafts may change")
    draft.lines.update(description="so may their lines")
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    line = issued.lines.first()

    for change in (
        lambda: Invoice.objects.filter(pk=issued.pk).update(customer_legal_name="Other"),
        lambda: Invoice.objects.filter(pk=issued.pk).update(
            subtotal=Decimal(1), tax=Decimal(0), total=Decimal(1)
        ),
        lambda: Invoice.objects.filter(pk=issued.pk).update(number="INV-1999-000001"),
        lambda: issued.lines.update(amount=Decimal(0)),
        lambda: InvoiceLine.objects.create(
            invoice=issued,
            position=99,
            code="extra",
            description="slipped in",
            quantity=1,
            unit_price=1,
            amount=1,
        ),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            change()

    line.refresh_from_db()
    assert line.description == "so may their lines"
    paid = invoices.invoice_payment_record(
        invoice=issued, paid_on=timezone.localdate(), reference="ok", actor=SYSTEM
    )
    assert paid.status == InvoiceStatus.PAID  # status and payment still move
