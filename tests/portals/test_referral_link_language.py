"""The referral link's own pages, ``/r/<code>``, in the friend's browser's language when
the portal is written in it (Arabic right to left), else the default."""

from decimal import Decimal

import pytest
from django.test import Client

from loyalty.models import ReferralTerms
from loyalty.referrals import services
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def code():
    """A code of a merchant with no shop address: the link shows it to type in."""
    merchant, program = program_merchant(name="Northwind Rewards", points_name="Beans")
    ReferralTerms.objects.create(
        program=program, advocate_points=500, friend_points=250, min_order_total=Decimal("1")
    )
    member = member_make(merchant, "cust-ana", email="ana@example.com", locale="de")
    return services.referral_code_get_or_create(member=member).code


def test_the_code_page_is_in_the_browsers_language(code):
    response = Client().get(f"/r/{code}", headers={"accept-language": "fr-CA,fr;q=0.9,en;q=0.5"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="fr"' in page
    assert 'dir="ltr"' in page
    assert code in page
    assert response["Content-Language"] == "fr"
    assert "Accept-Language" in response["Vary"]


def test_arabic_reads_right_to_left(code):
    response = Client().get(f"/r/{code}", HTTP_ACCEPT_LANGUAGE="ar")

    page = response.content.decode()
    assert 'lang="ar"' in page
    assert 'dir="rtl"' in page


def test_a_language_the_portal_is_not_written_in_falls_back_to_english(code):
    response = Client().get(f"/r/{code}", HTTP_ACCEPT_LANGUAGE="sv,fi;q=0.8")

    assert 'lang="en"' in response.content.decode()
    assert response["Content-Language"] == "en"


def test_the_page_does_not_follow_the_members_language(code):
    """The friend reads it, not the member who shared it (whose locale is German)."""
    response = Client().get(f"/r/{code}")

    assert 'lang="en"' in response.content.decode()


def test_a_link_that_does_not_work_is_in_the_browsers_language(db):
    response = Client().get("/r/NOSUCH23", HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 404
    page = response.content.decode()
    assert 'lang="fr"' in page
    assert "<h1>" in page

    arabic = Client().get("/r/NOSUCH23", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert 'dir="rtl"' in arabic
