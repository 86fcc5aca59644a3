"""The merchant's invoices and credit notes, for owners: a list and each document's PDF.
Drafts are the provider's work in progress and never shown (``invoice_list``)."""

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from merchants.invoice_documents import invoice_pdf, invoice_pdf_filename
from merchants.selectors import invoice_get, invoice_list
from portals import roles
from portals.access import portal_view


@portal_view(roles=roles.INVOICES)
def invoices(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(
        request,
        "portals/invoices.html",
        {"invoices": invoice_list(merchant=request.portal.merchant)},
    )


@portal_view(roles=roles.INVOICES)
def invoice_download(request: HttpRequest, public_id) -> HttpResponse:
    invoice = invoice_get(merchant=request.portal.merchant, public_id=public_id)
    response = HttpResponse(invoice_pdf(invoice=invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
