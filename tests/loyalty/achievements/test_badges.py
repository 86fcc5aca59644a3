"""Badges: an upload in the admin is fitted into a 256-pixel PNG, kept in the database
and served by its id and version; what is not a picture is refused with a message."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from core.exceptions import DomainError
from loyalty.achievements.badges import SIZE, badge_png
from loyalty.models import Achievement
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import program_merchant
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db


def picture(width: int, height: int, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format=fmt)
    return out.getvalue()


def test_a_wide_photo_becomes_a_centred_square_png():
    png, version = badge_png(picture(1200, 600))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (SIZE, SIZE)
    assert image.getpixel((0, 0))[3] == 0  # transparent above the photo
    assert image.getpixel((SIZE // 2, SIZE // 2))[:3] == (200, 30, 60)
    assert len(version) == 12
    assert badge_png(picture(1200, 600))[1] == version  # the same picture, the same version


@pytest.mark.parametrize("data", [b"", b"not a picture", b"\x89PNG\r\n\x1a\n broken"])
def test_what_is_not_a_picture_is_refused(data):
    with pytest.raises(DomainError) as refused:
        badge_png(data)
    assert refused.value.field == "badge"


def test_ops_upload_a_badge_in_the_admin_and_it_is_served_by_version(client):
    _merchant, program = program_merchant()
    achievement = achievement_make(program, goal=Decimal(3))
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse("admin:loyalty_achievement_change", args=[achievement.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name in form.fields and name != "badge_upload"
    }
    data.update({"program": program.pk, "goal": "3"})
    data["badge_upload"] = SimpleUploadedFile("badge.jpg", picture(300, 300), "image/jpeg")
    answer = client.post(url, data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    achievement = Achievement.objects.get(pk=achievement.pk)
    assert achievement.badge_version
    assert achievement.skus == []
    served = client.get(
        reverse("achievement-badge", args=[achievement.pk, achievement.badge_version])
    )
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert "immutable" in served["Cache-Control"]
    assert Image.open(io.BytesIO(served.content)).size == (SIZE, SIZE)
    assert (
        client.get(reverse("achievement-badge", args=[achievement.pk, "0" * 12])).status_code == 404
    )


def test_a_text_file_as_badge_is_refused_in_the_admin_form(client):
    _merchant, program = program_merchant()
    achievement = achievement_make(program)
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse("admin:loyalty_achievement_change", args=[achievement.pk])
    answer = client.post(
        url,
        {
            "program": program.pk,
            "name": "X",
            "trigger": "order",
            "measure": "count",
            "goal": "3",
            "window": "overall",
            "repeat": "once",
            "position": 1,
            "reward_points": 0,
            "badge_upload": SimpleUploadedFile("badge.png", b"hello", "image/png"),
        },
    )
    assert answer.status_code == 200
    assert "badge_upload" in answer.context["adminform"].form.errors
    assert not Achievement.objects.get(pk=achievement.pk).badge_version
