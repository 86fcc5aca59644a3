"""The member's care pages, mounted at ``/care/``: the ticket page (a signed link) and
the merchant's help pages."""

from django.urls import path

from customercare import views

app_name = "care"

urlpatterns = [
    path("t/<str:token>/", views.ticket_page, name="ticket"),
    path("t/<str:token>/rate/", views.ticket_rate, name="ticket-rate"),
    path("t/<str:token>/files/<str:attachment_id>/", views.ticket_file, name="ticket-file"),
    path("help/<slug:slug>/", views.help_faq, name="help-faq"),
    path("help/<slug:slug>/terms/", views.help_terms, name="help-terms"),
]
