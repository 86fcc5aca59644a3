from django.urls import path

from customercare.api import views

urlpatterns = [
    path("tickets/", views.TicketListView.as_view(), name="api-tickets"),
    path("tickets/<str:reference>/", views.TicketDetailView.as_view(), name="api-ticket"),
    path(
        "tickets/<str:reference>/messages/",
        views.TicketMessageView.as_view(),
        name="api-ticket-messages",
    ),
    path("tickets/<str:reference>/csat/", views.TicketCSATView.as_view(), name="api-ticket-csat"),
    path(
        "tickets/<str:reference>/attachments/<str:attachment_id>/",
        views.TicketAttachmentView.as_view(),
        name="api-ticket-attachment",
    ),
    path("program/terms/", views.TermsView.as_view(), name="api-program-terms"),
    path("program/faq/", views.FAQView.as_view(), name="api-program-faq"),
]
