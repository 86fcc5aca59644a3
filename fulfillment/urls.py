"""The member's claim page, mounted at ``/claim/``."""

from django.urls import path

from fulfillment import claim_page

app_name = "claim"

urlpatterns = [
    path("<str:token>/", claim_page.claim_page, name="page"),
    path("<str:token>/voucher.pdf", claim_page.claim_voucher_pdf, name="voucher-pdf"),
]
