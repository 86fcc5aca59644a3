"""The storefront widget, mounted at ``/widget/``. ``v1`` is part of the contract: the
script tag stores paste and the token they sign (``tokens.py``) change only with it."""

from django.urls import path

from integrations.widget import views

urlpatterns = [
    path("v1/<str:store_public_id>.js", views.widget_script, name="widget-script"),
    path(
        "v1/<str:store_public_id>/member.json",
        views.WidgetMemberView.as_view(),
        name="widget-member",
    ),
]
