from django.urls import path

from catalog.api import views

urlpatterns = [
    path("rewards/", views.RewardListView.as_view(), name="api-rewards"),
    path("rewards/<int:reward_id>/", views.RewardDetailView.as_view(), name="api-reward"),
]
