"""The merchant page's "View the portal as this merchant": a page that says what will
happen (read-only, audited, for how long), whose button (a POST) opens the view and goes
to the portal (``merchants.services.view_as``, ``portals.view_as``)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from core.actors import Actor
from merchants.services.view_as import PERMISSION, SESSION_KEY, portal_view_as_start

PORTAL_HOME = "/portal/"


class ViewPortalAsPage:
    """Mixed into MerchantAdmin, whose ``_get_for`` checks the merchant and the right."""

    def view_as_urls(self) -> list:
        return [
            path(
                "<int:pk>/view-portal/",
                self.admin_site.admin_view(self.view_portal_as_view),
                name="merchants_merchant_view_portal",
            )
        ]

    def view_portal_as_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        merchant = self._get_for(request, pk, PERMISSION)
        if request.method == "POST":
            view_as = portal_view_as_start(merchant=merchant, actor=Actor.staff(request.user))
            request.session[SESSION_KEY] = view_as.pk
            return HttpResponseRedirect(PORTAL_HOME)
        return TemplateResponse(
            request,
            "admin/merchants/merchant/view_portal_as.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": merchant,
                "title": f"View {merchant}'s portal",
                "merchant": merchant,
                "minutes": settings.PORTAL_VIEW_AS_MINUTES,
            },
        )
