"""The merchant portal's pages, under /portal/ (allauth's sign-in pages sit beside them).

Every view here is a ``portal_view``; tests/portals/test_tenancy.py and the role matrix
in tests/portals/test_roles.py enumerate these patterns and fail for one they do not list.
"""

from django.urls import path

from portals.views import account, frame, members, team

app_name = "portals"

urlpatterns = [
    path("", frame.dashboard, name="dashboard"),
    path("choose/", frame.choose, name="choose"),
    path("members/", members.member_list, name="members"),
    path("members/<str:external_id>/", members.member_detail, name="member"),
    path("team/", team.team, name="team"),
    path("team/<int:membership_id>/role/", team.team_role, name="team_role"),
    path("team/<int:membership_id>/remove/", team.team_remove, name="team_remove"),
    path("account/", account.account, name="account"),
]
