"""The merchant portal's pages, under /portal/ (allauth's sign-in pages sit beside them).

Every view here is a ``portal_view``; tests/portals/test_tenancy.py and the role matrix
in tests/portals/test_roles.py enumerate these patterns and fail for one they do not list.
"""

from django.urls import path

from portals.view_as import view_as_end
from portals.views import (
    account,
    frame,
    invoices,
    member_exports,
    members,
    referrals,
    reports,
    team,
    webhooks,
)

app_name = "portals"

urlpatterns = [
    path("", reports.dashboard, name="dashboard"),
    path("reports/<slug:table>.csv", reports.report_csv, name="report_csv"),
    path("reports/report.zip", reports.report_zip, name="report_zip"),
    path("reports/monthly/", reports.monthly_reports, name="monthly_reports"),
    path("referrals/", referrals.referrals, name="referrals"),
    path("reports/monthly/draft/", reports.monthly_report_draft, name="monthly_report_draft"),
    path(
        "reports/monthly/<uuid:public_id>.pdf",
        reports.monthly_report_pdf,
        name="monthly_report_pdf",
    ),
    path("choose/", frame.choose, name="choose"),
    path("brand.css", frame.brand_stylesheet, name="brand_css"),
    path("members/", members.member_list, name="members"),
    path("members/exports/", member_exports.member_exports, name="member_exports"),
    path(
        "members/exports/<uuid:public_id>.csv",
        member_exports.member_export_download,
        name="member_export",
    ),
    path("members/<str:external_id>/", members.member_detail, name="member"),
    path("invoices/", invoices.invoices, name="invoices"),
    path("invoices/<uuid:public_id>.pdf", invoices.invoice_download, name="invoice_pdf"),
    path("team/", team.team, name="team"),
    path("team/<int:membership_id>/role/", team.team_role, name="team_role"),
    path("team/<int:membership_id>/remove/", team.team_remove, name="team_remove"),
    path("account/", account.account, name="account"),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", webhooks.webhook, name="webhook"),
    path("webhooks/<int:endpoint_id>/manage/", webhooks.webhook_manage, name="webhook_manage"),
    # Provider staff leave their read-only view of the merchant's portal.
    path("view-as/end/", view_as_end, name="view_as_end"),
]
