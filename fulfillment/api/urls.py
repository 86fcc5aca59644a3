from django.urls import path

from fulfillment.api import views

urlpatterns = [
    path("redemptions/", views.RedemptionListView.as_view(), name="api-redemptions"),
    path(
        "redemptions/<str:redemption_id>/",
        views.RedemptionDetailView.as_view(),
        name="api-redemption",
    ),
]
