"""The member portal's pages, under ``/m/<merchant slug>/``: the sign-in pages, the
signed-in pages (``portals.member_session.member_page``), a member message's unsubscribe
page and tracked link, and the merchant's colours for them."""

from django.urls import path

from portals.views import (
    member_data,
    member_help,
    member_messages,
    member_my_rewards,
    member_pages,
    member_rewards,
    member_signin,
)

app_name = "member"

urlpatterns = [
    path("", member_pages.member_home, name="home"),
    path("history/", member_pages.member_history, name="history"),
    path("earn/", member_pages.member_earn, name="earn"),
    path("rewards/", member_rewards.member_rewards, name="rewards"),
    path("rewards/<int:reward_id>/", member_rewards.member_reward, name="reward"),
    path("rewards/<int:reward_id>/redeem", member_rewards.member_redeem, name="redeem"),
    path("my-rewards/", member_my_rewards.member_my_rewards, name="my_rewards"),
    path("my-rewards/<uuid:public_id>/", member_my_rewards.member_my_reward, name="my_reward"),
    path(
        "my-rewards/<uuid:public_id>/code", member_my_rewards.member_reward_code, name="reward_code"
    ),
    path(
        "my-rewards/<uuid:public_id>/voucher.pdf",
        member_my_rewards.member_reward_voucher,
        name="reward_voucher",
    ),
    path("achievements/", member_pages.member_achievements, name="achievements"),
    path("refer/", member_pages.member_refer, name="refer"),
    path("profile/", member_pages.member_profile, name="profile"),
    path("help/", member_help.help_hub, name="help"),
    path("help/new/", member_help.help_new, name="help_new"),
    path("help/terms/", member_help.help_terms, name="help_terms"),
    path("help/tickets/<str:reference>/", member_help.help_ticket, name="help_ticket"),
    path(
        "help/tickets/<str:reference>/rate", member_help.help_ticket_rate, name="help_ticket_rate"
    ),
    path(
        "help/tickets/<str:reference>/files/<str:attachment_id>/",
        member_help.help_ticket_file,
        name="help_ticket_file",
    ),
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
