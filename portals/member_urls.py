"""The member portal's pages, under ``/m/<merchant slug>/``: so far a member message's
unsubscribe page and tracked link, and the merchant's colours for them."""

from django.urls import path

from portals.views import member_messages

app_name = "member"

urlpatterns = [
    path("brand.css", member_messages.member_brand_stylesheet, name="brand_css"),
    path(
        "messages/<str:token>/unsubscribe",
        member_messages.message_unsubscribe,
        name="message_unsubscribe",
    ),
    path("messages/<str:token>/open", member_messages.message_open, name="message_open"),
]
