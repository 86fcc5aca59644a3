"""A merchant's brand in its portal and reports: its colour, kept readable on white, as a
stylesheet of the design system's properties, and its logo in the header and the PDF."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from core.actors import SYSTEM
from core.documents import image_data_uri
from merchants.models import MerchantBrand
from merchants.services.lifecycle import merchant_brand_save
from portals import brand
from tests.portals.factories import signed_in


@pytest.mark.parametrize("colour", ["#1d4ed8", "#ffd500", "#00ff00", "#ffffff", "#7a0019"])
def test_the_brand_colour_always_reads_on_white_at_aa(colour):
    shown = brand.readable(colour)
    assert brand.contrast(shown, "#ffffff") >= 4.5
    if brand.contrast(colour, "#ffffff") >= 4.5:
        assert shown == colour  # a readable colour is kept as it is


def test_an_empty_colour_is_the_portals_own_blue():
    assert "--brand: #1d4ed8;" in brand.brand_css("")


@pytest.mark.django_db
def test_a_malformed_colour_is_refused(pair):
    a, _ = pair
    for bad in ("red", "#12345", "#gggggg", "1d4ed8", "#1d4ed8;}body{"):
        with pytest.raises(ValidationError) as error:
            merchant_brand_save(
                brand=MerchantBrand(merchant=a.merchant, colour=bad),
                changed=["colour"],
                actor=SYSTEM,
            )
        assert "colour" in error.value.message_dict
    assert not MerchantBrand.objects.filter(merchant=a.merchant).exists()


@pytest.mark.django_db
def test_the_stylesheet_is_the_signed_in_users_merchants(pair):
    a, b = pair
    MerchantBrand.objects.create(merchant=a.merchant, colour="#ffd500")

    mine = signed_in(a.analyst).get(reverse("portals:brand_css"))
    theirs = signed_in(b.analyst).get(reverse("portals:brand_css"))

    assert mine["Content-Type"] == "text/css; charset=utf-8"
    assert f"--brand: {brand.readable('#ffd500')};" in mine.content.decode()
    assert "--brand: #1d4ed8;" in theirs.content.decode()
    page = signed_in(a.analyst).get(reverse("portals:members")).content.decode()
    assert reverse("portals:brand_css") in page


@pytest.mark.django_db
def test_the_logo_shows_in_the_header_and_inlines_in_the_report(pair, settings, tmp_path):
    a, _ = pair
    settings.MEDIA_ROOT = tmp_path
    png = io.BytesIO()
    Image.new("RGB", (40, 20), "#7a0019").save(png, format="PNG")
    brand = merchant_brand_save(
        brand=MerchantBrand(
            merchant=a.merchant,
            logo=SimpleUploadedFile("logo.png", png.getvalue(), content_type="image/png"),
        ),
        changed=["logo"],
        actor=SYSTEM,
    )

    page = signed_in(a.analyst).get(reverse("portals:members")).content.decode()

    assert brand.logo.url in page
    assert image_data_uri(brand.logo).startswith("data:image/png;base64,")
    brand.logo.delete(save=False)
    assert image_data_uri(brand.logo) == ""
