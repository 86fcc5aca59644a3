"""Invoices and billing profiles, for Finance.

An invoice is read here and changed only by its actions, each a service of
``merchants.invoices`` with its own permission: issue (``issue_invoice``), record a
payment (``record_invoice_payment``), void (``void_invoice``), credit
(``credit_invoice``). The PDF and the CSV export need the right to view invoices."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from unfold.admin import StackedInline
from unfold.widgets import UnfoldAdminTextareaWidget

from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.buttons import NO_SAVE_BUTTONS
from core.admin.errors import ServiceErrorsAdmin
from core.admin.filters import queue_filter
from core.admin.forms import ConfirmForm, reason_form
from core.admin.readonly import ReadOnlyInline
from core.admin.rights import page_action_allowed
from core.site_time import site_today
from merchants import invoices
from merchants.invoice_documents import (
    date_display,
    invoice_csv,
    invoice_pdf,
    invoice_pdf_filename,
    money_display,
    quantity_text,
    unit_price_text,
)
from merchants.models import (
    BillingProfile,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from merchants.queues import invoices_overdue

VIEW_PERMISSION = "merchants.view_invoice"
ISSUE_PERMISSION = "merchants.issue_invoice"
PAY_PERMISSION = "merchants.record_invoice_payment"
VOID_PERMISSION = "merchants.void_invoice"
CREDIT_PERMISSION = "merchants.credit_invoice"

# The invoice page's actions (``<pk>/act/<name>/``): label, permission, and the statuses
# in which the page offers it (the service decides; this only hides useless buttons).
ACTIONS = {
    "redraft": ("Draft again from the usage", ISSUE_PERMISSION, {InvoiceStatus.DRAFT}),
    "issue": ("Issue", ISSUE_PERMISSION, {InvoiceStatus.DRAFT}),
    "record_payment": ("Record a payment", PAY_PERMISSION, {InvoiceStatus.ISSUED}),
    "void": ("Void", VOID_PERMISSION, {InvoiceStatus.ISSUED}),
    "credit": ("Credit", CREDIT_PERMISSION, {InvoiceStatus.ISSUED, InvoiceStatus.PAID}),
}


ReasonForm = reason_form("the invoice's")


class PaymentForm(forms.Form):
    paid_on = forms.DateField(initial=timezone.localdate, help_text="YYYY-MM-DD")
    reference = forms.CharField(max_length=120, help_text="The bank transfer's reference.")


class CreditForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=16,
        decimal_places=4,
        min_value=0,
        help_text="Before tax, in the invoice's currency; tax is credited at its rate.",
    )
    reason = forms.CharField(
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Printed on the credit note.",
    )


class InvoiceRecordInline(ReadOnlyInline):
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Part of the invoice: whoever may see the invoice sees its lines and history.
        return request.user.has_perm(VIEW_PERMISSION)


class InvoiceLineInline(InvoiceRecordInline):
    model = InvoiceLine
    list_select_related = ["invoice"]
    fields = ["position", "description", "quantity_display", "unit_price_display", "amount_display"]
    readonly_fields = fields
    verbose_name_plural = "Lines"

    @admin.display(description="Quantity")
    def quantity_display(self, line: InvoiceLine) -> str:
        return quantity_text(line.quantity)

    @admin.display(description="Unit price")
    def unit_price_display(self, line: InvoiceLine) -> str:
        return unit_price_text(line.unit_price, line.invoice.currency)

    @admin.display(description="Amount")
    def amount_display(self, line: InvoiceLine) -> str:
        return money_display(line.amount, line.invoice.currency)


class InvoiceEventInline(InvoiceRecordInline):
    model = InvoiceEvent
    fields = ["created_at", "from_status", "to_status", "reason", "actor_label"]
    readonly_fields = fields
    verbose_name_plural = "History"


@admin.register(Invoice)
class InvoiceAdmin(ConfirmActions, ServiceErrorsAdmin):
    list_display = [
        "number_display",
        "merchant",
        "period",
        "total_display",
        "status_display",
        "issued_on",
        "due_on",
    ]
    list_filter = [
        "status",
        queue_filter(
            title="payment",
            parameter_name="overdue",
            label="Overdue",
            rows=lambda invoices: invoices_overdue(invoices, today=site_today()),
        ),
        "kind",
        "currency",
        "period_start",
    ]
    search_fields = ["number", "merchant__name", "merchant__slug", "customer_legal_name"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    ordering = ["-period_start", "-id"]
    actions = ["redraft", "issue", "record_payment", "void", "credit", "export_csv"]
    page_actions = {name: permission for name, (_, permission, _) in ACTIONS.items()}
    inlines = [InvoiceLineInline, InvoiceEventInline]
    change_form_template = "admin/merchants/invoice/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number_display",
                    "kind",
                    "credited_invoice",
                    "merchant",
                    "status_display",
                    "period",
                    "fee_plan",
                ]
            },
        ),
        (
            "Amounts",
            {"fields": ["subtotal_display", "tax_display", "tax_note", "total_display"]},
        ),
        (
            "Dates and payment",
            {"fields": ["issued_on", "due_on", "paid_on", "payment_reference", "reason"]},
        ),
        (
            "Customer (copied at issue)",
            {
                "fields": [
                    "customer_legal_name",
                    "customer_address",
                    "customer_country",
                    "customer_tax_id",
                    "customer_email",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drafted by the monthly job or ``invoice_draft``, never typed in

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ISSUE_PERMISSION)

    def has_record_payment_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PAY_PERMISSION)

    def has_void_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(VOID_PERMISSION)

    def has_credit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CREDIT_PERMISSION)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)

    # -- columns ---------------------------------------------------------------------------

    @admin.display(description="Number", ordering="number")
    def number_display(self, invoice: Invoice) -> str:
        if invoice.number:
            return invoice.number
        return f"Draft {invoice.get_kind_display().lower()} #{invoice.pk}"

    @admin.display(description="Period", ordering="period_start")
    def period(self, invoice: Invoice) -> str:
        return f"{invoice.period_start:%B %Y}"

    @admin.display(description="Total", ordering="total")
    def total_display(self, invoice: Invoice) -> str:
        return money_display(invoice.total, invoice.currency)

    @admin.display(description="Subtotal")
    def subtotal_display(self, invoice: Invoice) -> str:
        return money_display(invoice.subtotal, invoice.currency)

    @admin.display(description="Tax")
    def tax_display(self, invoice: Invoice) -> str:
        rate = f"{invoice.tax_rate_percent.normalize():f} %"
        return f"{money_display(invoice.tax, invoice.currency)} ({rate})"

    @admin.display(description="Status", ordering="status")
    def status_display(self, invoice: Invoice) -> str:
        return invoice.get_status_display()

    # -- pages -----------------------------------------------------------------------------

    def get_urls(self) -> list:
        return [
            *self.page_action_urls(),
            path(
                "<int:pk>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="merchants_invoice_pdf",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra = {**NO_SAVE_BUTTONS, **(extra_context or {})}
        invoice = self.get_object(request, object_id)
        if invoice is not None:
            extra["staff_actions"] = [
                (reverse("admin:merchants_invoice_act", args=[invoice.pk, name]), label)
                for name, (label, _, statuses) in ACTIONS.items()
                if invoice.status in statuses
                and not (invoice.kind == InvoiceKind.CREDIT_NOTE and name != "issue")
                and page_action_allowed(self.page_actions, request, name)
            ]
            extra["pdf_url"] = reverse("admin:merchants_invoice_pdf", args=[invoice.pk])
        return super().change_view(request, object_id, form_url, extra)

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        response = HttpResponse(invoice_pdf(invoice=invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
        return response

    # -- actions ---------------------------------------------------------------------------

    def _each_invoice(self, request: HttpRequest, queryset: QuerySet, **kwargs):
        return self.confirm_then_apply(
            request, queryset.select_related("merchant").order_by("pk"), **kwargs
        )

    @admin.action(description="Draft again from the fee plan and usage…", permissions=["issue"])
    def redraft(self, request: HttpRequest, queryset: QuerySet):
        return self._each_invoice(
            request,
            queryset.filter(kind=InvoiceKind.INVOICE),
            form=self.confirm_form(ConfirmForm, request),
            title="Build these drafts again from their month's fee plan and usage records",
            action="redraft",
            call=lambda invoice, data: invoices.invoice_draft(
                merchant=invoice.merchant,
                year=invoice.period_start.year,
                month=invoice.period_start.month,
                actor=Actor.staff(request.user),
            ),
            done=lambda drafted: (
                f"drafted again, {money_display(drafted.total, drafted.currency)}."
                if drafted.status == InvoiceStatus.DRAFT
                else f"already issued as {drafted.number}; nothing changed."
            ),
        )

    @admin.action(description="Issue the selected drafts…", permissions=["issue"])
    def issue(self, request: HttpRequest, queryset: QuerySet):
        return self._each_invoice(
            request,
            queryset,
            form=self.confirm_form(ConfirmForm, request),
            title="Issue these invoices (each gets the next number; it cannot be undone)",
            action="issue",
            call=lambda invoice, data: invoices.invoice_issue(
                invoice=invoice, actor=Actor.staff(request.user)
            ),
            done=lambda issued: (
                f"issued as {issued.number}, {money_display(issued.total, issued.currency)}."
            ),
        )

    @admin.action(description="Record a payment…", permissions=["record_payment"])
    def record_payment(self, request: HttpRequest, queryset: QuerySet):
        return self._each_invoice(
            request,
            queryset,
            form=self.confirm_form(PaymentForm, request),
            title="Record the payment of these invoices (in full)",
            action="record_payment",
            call=lambda invoice, data: invoices.invoice_payment_record(
                invoice=invoice,
                paid_on=data["paid_on"],
                reference=data["reference"],
                actor=Actor.staff(request.user),
            ),
            done=lambda paid: f"paid on {date_display(paid.paid_on)}.",
        )

    @admin.action(description="Void…", permissions=["void"])
    def void(self, request: HttpRequest, queryset: QuerySet):
        return self._each_invoice(
            request,
            queryset,
            form=self.confirm_form(ReasonForm, request),
            title="Void these invoices (their numbers stay used)",
            action="void",
            call=lambda invoice, data: invoices.invoice_void(
                invoice=invoice, reason=data["reason"], actor=Actor.staff(request.user)
            ),
            done="voided.",
        )

    @admin.action(description="Credit (issue a credit note)…", permissions=["credit"])
    def credit(self, request: HttpRequest, queryset: QuerySet):
        title = "Issue a credit note against each of these invoices"
        selected = list(queryset[:2])
        if len(selected) == 1:
            (invoice,) = selected
            net_left, _ = invoices.invoice_credit_left(invoice=invoice)
            title = (
                f"Credit {invoice} (at most {money_display(net_left, invoice.currency)} "
                "before tax is left to credit)"
            )
        return self._each_invoice(
            request,
            queryset,
            form=self.confirm_form(CreditForm, request),
            title=title,
            action="credit",
            call=lambda invoice, data: invoices.credit_note_issue(
                invoice=invoice,
                amount=data["amount"],
                reason=data["reason"],
                actor=Actor.staff(request.user),
            ),
            done=lambda note: (
                f"credit note {note.number} issued, {money_display(note.total, note.currency)}."
            ),
        )

    @admin.action(description="Export for accounting (CSV)", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        rows = queryset.select_related("merchant", "credited_invoice").order_by(
            "number_year", "kind", "number_sequence", "pk"
        )
        response = HttpResponse(invoice_csv(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="invoices.csv"'
        return response


class BillingProfileForm(forms.ModelForm):
    class Meta:
        model = BillingProfile
        fields = [
            "legal_name",
            "address",
            "country",
            "tax_id",
            "is_business",
            "tax_rate_percent",
            "invoice_email",
        ]
        # unfold's textarea: Django's plain one has no border under unfold's styles.
        widgets = {"address": UnfoldAdminTextareaWidget(attrs={"rows": 3})}


class BillingProfileInline(StackedInline):
    """On the merchant's page; saved through ``invoices.billing_profile_save``."""

    model = BillingProfile
    form = BillingProfileForm
    extra = 0
    max_num = 1
    can_delete = False
    verbose_name_plural = "Billing profile (copied onto each invoice when it is issued)"


@admin.register(BillingProfile)
class BillingProfileAdmin(ServiceErrorsAdmin):
    form = BillingProfileForm
    list_display = [
        "legal_name",
        "merchant",
        "country",
        "tax_id",
        "is_business",
        "tax_rate_percent",
        "invoice_email",
    ]
    list_filter = ["country", "is_business"]
    search_fields = ["legal_name", "tax_id", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["merchant", *BillingProfileForm.Meta.fields]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        kwargs["fields"] = self.get_fields(request, obj)
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: BillingProfile, form, change: bool) -> None:
        invoices.billing_profile_save(
            profile=obj, changed=form.changed_data, actor=Actor.staff(request.user)
        )
