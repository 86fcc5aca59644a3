"""The member's claim page, mounted at ``/claim/``."""

from django.urls import path

from fulfillment import claim

app_name = "claim"

urlpatterns = [
    path("<str:token>/", claim.claim_page, name="page"),
    path("<str:token>/voucher.pdf", claim.claim_voucher_pdf, name="voucher-pdf"),
]
