from django.urls import path

from merchants.api.views import MerchantView

urlpatterns = [
    path("merchant/", MerchantView.as_view(), name="api-merchant"),
]
