"""The member portal's pages, under ``/m/<merchant slug>/``: the sign-in pages, the
signed-in pages (``portals.member_session.member_page``), a member message's unsubscribe
page and tracked link, and the merchant's colours for them."""

from django.urls import path

from portals.views import member_data, member_messages, member_pages, member_signin

app_name = "member"

urlpatterns = [
    path("", member_pages.member_home, name="home"),
    path("history/", member_pages.member_history, name="history"),
    path("earn/", member_pages.member_earn, name="earn"),
    path("achievements/", member_pages.member_achievements, name="achievements"),
    path("refer/", member_pages.member_refer, name="refer"),
    path("profile/", member_pages.member_profile, name="profile"),
    path("profile/data", member_data.data_request, name="data_request"),
    path("profile/delete", member_data.deletion_request, name="deletion_request"),
    path("data/<str:token>.zip", member_data.data_download, name="data_download"),
    path("language", member_pages.member_language, name="language"),
    path("login/", member_signin.member_login, name="login"),
    path("login/store", member_signin.member_login_store, name="login_store"),
    path("login/link/<str:token>", member_signin.member_login_link, name="login_link"),
    path("logout", member_signin.member_logout, name="logout"),
    path("brand.css", member_messages.member_brand_stylesheet, name="brand_css"),
    path(
        "messages/<str:token>/unsubscribe",
        member_messages.message_unsubscribe,
        name="message_unsubscribe",
    ),
    path("messages/<str:token>/open", member_messages.message_open, name="message_open"),
]
