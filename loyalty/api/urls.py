from django.urls import path

from loyalty.api import achievements, bulk, referrals, sync, views

urlpatterns = [
    path("members/", views.MemberListView.as_view(), name="api-members"),
    path("members/bulk/", bulk.MemberBulkView.as_view(), name="api-members-bulk"),
    path("members/changes/", sync.MemberChangesView.as_view(), name="api-members-changes"),
    path("members/<str:external_id>/", views.MemberDetailView.as_view(), name="api-member"),
    path(
        "members/<str:external_id>/ledger/",
        views.MemberLedgerView.as_view(),
        name="api-member-ledger",
    ),
    path(
        "members/<str:external_id>/segments/",
        views.MemberSegmentsView.as_view(),
        name="api-member-segments",
    ),
    path(
        "members/<str:external_id>/achievements/",
        achievements.MemberAchievementsView.as_view(),
        name="api-member-achievements",
    ),
    path(
        "members/<str:external_id>/coupons/",
        views.MemberCouponsView.as_view(),
        name="api-member-coupons",
    ),
    path(
        "members/<str:external_id>/referrals/",
        referrals.MemberReferralsView.as_view(),
        name="api-member-referrals",
    ),
    path(
        "members/<str:external_id>/adjustments/",
        views.MemberAdjustmentView.as_view(),
        name="api-member-adjustments",
    ),
    path("orders/", views.OrderListView.as_view(), name="api-orders"),
    path("orders/simulate/", views.OrderSimulateView.as_view(), name="api-orders-simulate"),
    path("orders/bulk/", bulk.OrderBulkView.as_view(), name="api-orders-bulk"),
    path(
        "orders/<str:external_id>/refunds/",
        views.OrderRefundView.as_view(),
        name="api-order-refunds",
    ),
    path("activities/", views.ActivityListView.as_view(), name="api-activities"),
]
