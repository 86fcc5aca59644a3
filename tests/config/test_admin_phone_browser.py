"""Two admin pages on a phone (390 px) and a desktop (1440 px), in a real browser, with axe
(``screenshots``): the members list with unfold's Import and Export tools, and a merchant's
page with its stacked inlines (billing profile, brand with a logo) and its stores."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from core.actors import SYSTEM
from merchants.models import MerchantBrand
from merchants.services.stores import store_create
from tests.config.test_csp_browser import Watch, screenshots
from tests.merchants.factories import MerchantFactory, billing_profile_make
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-long-pass-phrase"
# A PNG of one pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a2a1a3"
    "0c0000000049454e44ae426082"
)


def sign_in(page, server_url: str) -> None:  # noqa: F811
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url(f"{server_url}/admin/")


def page_width(page) -> int:  # noqa: F811
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_members_list_keeps_import_and_export_and_passes_axe(server_url, page, settings):  # noqa: F811
    sign_in(page, server_url)
    watch = Watch(page)
    page.goto(f"{server_url}/admin/loyalty/member/")
    # The object tools hold only list items (axe's "list" rule), when there are any.
    assert page.locator("ul.object-tools > :not(li)").count() == 0
    screenshots(page, "admin-phone/members")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.locator("a[href^='/admin/loyalty/member/export/']").click()
    page.wait_for_url("**/admin/loyalty/member/export/**")
    page.go_back()
    page.locator("a[href='/admin/loyalty/member/import/']").click()
    page.wait_for_url("**/admin/loyalty/member/import/")
    watch.assert_clean("members list, import and export")


def test_a_merchants_page_fits_a_phone_and_passes_axe(server_url, page, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = str(tmp_path)
    merchant = MerchantFactory(name="Maison Lumière", slug="maison-lumiere", live=True)
    billing_profile_make(merchant, address="12 rue de la Paix\n75002 Paris")
    MerchantBrand.objects.create(
        merchant=merchant,
        colour="#7a1f3d",
        logo=SimpleUploadedFile("maison-lumiere.png", PNG, content_type="image/png"),
    )
    for name in ("Boutique en ligne", "Outlet"):
        store_create(
            merchant=merchant,
            name=name,
            platform="woocommerce",
            domain=f"{name.split()[0].lower()}.maison-lumiere.fr",
            actor=SYSTEM,
        )
    sign_in(page, server_url)
    watch = Watch(page)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{server_url}/admin/merchants/merchant/{merchant.pk}/change/")
    assert page_width(page) == 390
    screenshots(page, "admin-phone/merchant")
    assert page.locator("#id_stores-0-platform").get_attribute("aria-label") == "Platform"
    watch.assert_clean("merchant page")
