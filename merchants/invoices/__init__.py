"""Invoices and credit notes: every write. The arithmetic is in ``merchants.invoice_rules``.

- **Drafting** (``invoice_draft``) builds the month's invoice from the fee plan valid for
  the month and that month's usage records alone, after asking every app to post its usage
  (``billing_usage_collectors``). One invoice per merchant and month: drafting again
  rebuilds a draft and returns an issued (or paid) one unchanged. The plan is the one in
  force on the month's first day, or for a merchant whose first plan starts within the
  month, that plan; a plan starting later in the month bills from the next month on.
- **Status** moves only through ``invoice_transition``: draft -> issued -> paid, or
  issued -> void; compare-and-swap, ``InvalidTransition`` for any other move, and an
  ``InvoiceEvent`` row naming who, when, from, to and why.
- **Issuing** copies the billing profile (and the provider's details) onto the invoice,
  settles the tax, and gives the number: ``INV-<year>-000123``, credit notes
  ``CN-<year>-000001``, from a counter row per kind and year locked in the issuing
  transaction, so numbers run without gaps. Nothing changes an issued invoice but its
  status; a correction is a credit note.
- **Credit notes** refer to an issued or paid invoice and never credit more than is left
  of it (its subtotal, and its tax, less earlier credit notes). They are issued at once.

Locks are taken in one order: the merchant (drafting), the invoice credited, the invoice
issued, then the counter.
"""

from merchants.invoices.credit_notes import CreditLine, credit_note_issue, invoice_credit_left
from merchants.invoices.drafting import (
    fee_plan_for_month,
    invoice_draft,
    month_usage,
    usage_collect,
)
from merchants.invoices.jobs import DraftRunResult, invoices_draft_last_month, previous_month
from merchants.invoices.lifecycle import (
    invoice_issue,
    invoice_number,
    invoice_payment_record,
    invoice_transition,
    invoice_void,
)
from merchants.invoices.parties import (
    billing_profile_save,
    customer_details,
    provider_details,
)

__all__ = [
    "CreditLine",
    "DraftRunResult",
    "billing_profile_save",
    "credit_note_issue",
    "customer_details",
    "fee_plan_for_month",
    "invoice_credit_left",
    "invoice_draft",
    "invoice_issue",
    "invoice_number",
    "invoice_payment_record",
    "invoice_transition",
    "invoice_void",
    "invoices_draft_last_month",
    "month_usage",
    "previous_month",
    "provider_details",
    "usage_collect",
]
