"""A merchant's help texts: the terms in force (by effective date and version, never a
future or unpublished one), the published FAQ, each in the member's locale with English
as the fallback; through the store API and the public help pages, each merchant's own."""

import datetime

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from rest_framework.test import APIClient

from core.actors import SYSTEM
from customercare import help as help_pages
from customercare.models import FAQEntry, ProgramTerms
from merchants.models import MerchantStatus
from merchants.services.lifecycle import merchant_transition
from tests.conftest import assert_not_found, assert_problem, make_tenant
from tests.customercare.factories import care_merchant
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db

TERMS_URL = "/api/v1/program/terms/"
FAQ_URL = "/api/v1/program/faq/"
TODAY = datetime.date(2025, 6, 15)


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def terms(merchant, version: int, effective_on: datetime.date, published=True, **bodies):
    bodies.setdefault("body_en", f"Terms version {version}.")
    return ProgramTerms.objects.create(
        merchant=merchant,
        version=version,
        effective_on=effective_on,
        is_published=published,
        **bodies,
    )


@pytest.fixture
def merchant():
    merchant = care_merchant()
    terms(merchant, 1, days(-400), body_fr="Conditions, version 1.")
    terms(merchant, 2, days(-30), body_fr="Conditions, version 2.")
    terms(merchant, 3, days(30), body_en="Terms version 3, not yet.")  # future
    terms(merchant, 4, days(-1), published=False, body_en="Draft terms.")
    return merchant


@pytest.fixture
def shop(merchant):
    return make_tenant(merchant)


def faq(merchant, question: str, position: int, published=True, **translations):
    return FAQEntry.objects.create(
        merchant=merchant,
        question_en=question,
        answer_en=f"Answer to {question}",
        position=position,
        is_published=published,
        **translations,
    )


# -- selectors -----------------------------------------------------------------------------


def test_terms_in_force_are_the_highest_published_version_whose_date_has_come():
    merchant = care_merchant()
    assert help_pages.terms_current(merchant=merchant, on=TODAY) is None
    v1 = terms(merchant, 1, datetime.date(2024, 1, 1))
    v2 = terms(merchant, 2, datetime.date(2025, 6, 15))
    terms(merchant, 3, datetime.date(2025, 6, 16))
    terms(merchant, 4, datetime.date(2025, 1, 1), published=False)
    assert help_pages.terms_current(merchant=merchant, on=datetime.date(2025, 6, 14)) == v1
    assert help_pages.terms_current(merchant=merchant, on=TODAY) == v2
    assert [t.version for t in help_pages.terms_history(merchant=merchant, on=TODAY)] == [2, 1]
    assert help_pages.terms_current(merchant=merchant, on=datetime.date(2025, 6, 16)).version == 3


def test_terms_of_another_merchant_are_never_in_force():
    merchant, other = care_merchant(), care_merchant()
    terms(other, 1, datetime.date(2024, 1, 1))
    assert help_pages.terms_current(merchant=merchant, on=TODAY) is None
    assert help_pages.terms_history(merchant=merchant, on=TODAY) == []


def test_the_faq_is_the_published_entries_in_order():
    merchant, other = care_merchant(), care_merchant()
    second = faq(merchant, "How do I redeem?", 2)
    first = faq(merchant, "How do I earn?", 1)
    faq(merchant, "Draft question", 0, published=False)
    faq(other, "Their question", 0)
    assert help_pages.faq_published(merchant=merchant) == [first, second]


# -- API -----------------------------------------------------------------------------------


def test_the_api_gives_the_terms_in_force(shop):
    response = shop.client.get(TERMS_URL)
    assert response.status_code == 200
    assert response.json() == {
        "version": 2,
        "effective_on": days(-30).isoformat(),
        "locale": "en",
        "body": "Terms version 2.",
    }


@pytest.mark.parametrize(
    ("locale", "expected_locale", "body"),
    [
        ("fr", "fr", "Conditions, version 2."),
        ("fr-CA", "fr", "Conditions, version 2."),
        ("fr_FR", "fr", "Conditions, version 2."),
        ("de", "de", "Terms version 2."),  # not translated: English
        ("sv", "en", "Terms version 2."),  # not a supported locale: English
    ],
)
def test_the_terms_come_in_the_locale_asked_with_english_as_fallback(
    shop, locale, expected_locale, body
):
    response = shop.client.get(TERMS_URL, {"locale": locale})
    assert response.status_code == 200
    assert response.json()["locale"] == expected_locale
    assert response.json()["body"] == body


@pytest.mark.parametrize("locale", ["f", "fr!!", "x" * 30, "../../etc", "fr\x00"])
def test_a_malformed_locale_is_a_400(shop, locale):
    assert_problem(shop.client.get(TERMS_URL, {"locale": locale}), 400, "invalid_input", "locale")
    assert_problem(shop.client.get(FAQ_URL, {"locale": locale}), 400, "invalid_input", "locale")


def test_no_terms_in_force_is_a_404():
    merchant = care_merchant()
    terms(merchant, 1, days(10))
    terms(merchant, 2, days(-10), published=False)
    assert_not_found(make_tenant(merchant).client.get(TERMS_URL))


def test_a_merchants_key_never_sees_another_merchants_help(tenant_pair):
    a, b = tenant_pair.a, tenant_pair.b
    terms(a.merchant, 1, days(-5), body_en="A's terms.")
    faq(a.merchant, "A's question", 1)
    assert a.client.get(TERMS_URL).json()["body"] == "A's terms."
    assert_not_found(b.client.get(TERMS_URL))
    assert b.client.get(FAQ_URL).json()["entries"] == []
    terms(b.merchant, 7, days(-5), body_en="B's terms.")
    assert b.client.get(TERMS_URL).json() == {
        "version": 7,
        "effective_on": days(-5).isoformat(),
        "locale": "en",
        "body": "B's terms.",
    }
    assert a.client.get(TERMS_URL).json()["version"] == 1


def test_the_api_gives_the_published_faq_in_the_locale(shop, merchant):
    faq(merchant, "How do I earn?", 1, question_fr="Comment gagner ?", answer_fr="En achetant.")
    faq(merchant, "How do I redeem?", 2)
    faq(merchant, "Draft", 0, published=False)
    english = shop.client.get(FAQ_URL)
    assert english.status_code == 200
    assert english.json()["locale"] == "en"
    assert [e["question"] for e in english.json()["entries"]] == [
        "How do I earn?",
        "How do I redeem?",
    ]
    french = shop.client.get(FAQ_URL, {"locale": "fr"}).json()
    assert [(e["question"], e["answer"]) for e in french["entries"]] == [
        ("Comment gagner ?", "En achetant."),
        ("How do I redeem?", "Answer to How do I redeem?"),
    ]


def test_help_endpoints_need_a_key():
    response = APIClient().get(TERMS_URL)
    assert response.status_code == 401


# -- pages ---------------------------------------------------------------------------------


def terms_page(merchant) -> str:
    return f"/care/help/{merchant.slug}/terms/"


def faq_page(merchant) -> str:
    return f"/care/help/{merchant.slug}/"


def test_the_terms_page_shows_the_version_in_force_and_the_earlier_ones(client, merchant):
    response = client.get(terms_page(merchant))
    assert response.status_code == 200
    html = response.text
    assert "Terms version 2." in html
    assert "Terms version 1." not in html  # listed, not shown
    assert "?version=1" in html
    assert "?version=2" in html
    assert "?version=3" not in html
    assert "Terms version 3" not in html
    assert "?version=4" not in html
    assert "Draft terms." not in html
    assert f"Version 1, in force from {date_format(days(-400))}" in html
    assert f"Version 2, in force from {date_format(days(-30))}" in html


def test_an_earlier_version_can_be_read_and_a_future_or_draft_one_cannot(client, merchant):
    earlier = client.get(terms_page(merchant), {"version": "1"})
    assert earlier.status_code == 200
    assert "Terms version 1." in earlier.text
    assert "This version has been replaced." in earlier.text
    for version in ("3", "4", "99", "abc", "-1", "9" * 40, "", "\x00", "\u0661"):
        assert client.get(terms_page(merchant), {"version": version}).status_code == 404


def test_the_terms_page_is_in_the_language_asked(client, merchant):
    french = client.get(terms_page(merchant), {"lang": "fr"})
    assert "Conditions, version 2." in french.text
    assert '<html lang="fr"' in french.text
    assert "Conditions du programme" in french.text
    german = client.get(terms_page(merchant), {"lang": "de"})
    assert "Terms version 2." in german.text  # English where not translated
    assert '<html lang="de"' in german.text
    assert client.get(terms_page(merchant), {"lang": "\x00"}).status_code == 200
    unknown = client.get(terms_page(merchant), {"lang": "xx"})
    assert "Terms version 2." in unknown.text
    assert '<html lang="en"' in unknown.text
    browser = client.get(terms_page(merchant), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert "Conditions, version 2." in browser.text


def test_the_faq_page_shows_only_published_entries(client, merchant):
    faq(merchant, "How do I earn?", 1, question_fr="Comment gagner ?")
    faq(merchant, "Secret draft question", 0, published=False)
    html = client.get(faq_page(merchant)).text
    assert "How do I earn?" in html
    assert "Secret draft question" not in html
    assert "Comment gagner ?" in client.get(faq_page(merchant), {"lang": "fr"}).text


def test_a_page_without_terms_says_so(client):
    merchant = care_merchant()
    response = client.get(terms_page(merchant))
    assert response.status_code == 200
    assert "not published yet" in response.text


def test_help_pages_of_an_unknown_or_not_live_merchant_are_404(client, merchant):
    for url in ("/care/help/no-such-shop/", "/care/help/no-such-shop/terms/"):
        assert client.get(url).status_code == 404
    applied = MerchantFactory()
    terms(applied, 1, days(-5))
    assert client.get(faq_page(applied)).status_code == 404
    assert client.get(terms_page(applied)).status_code == 404
    merchant_transition(
        merchant=merchant, to_status=MerchantStatus.SUSPENDED, reason="test", actor=SYSTEM
    )
    assert client.get(faq_page(merchant)).status_code == 404
    assert client.get(terms_page(merchant)).status_code == 404


def test_one_merchants_page_never_shows_anothers_texts(client, merchant):
    other = care_merchant()
    terms(other, 1, days(-5), body_en="Other shop terms.")
    faq(other, "Other shop question", 1)
    assert "Other shop terms." not in client.get(terms_page(merchant)).text
    assert "Other shop question" not in client.get(faq_page(merchant)).text
    assert client.get(terms_page(merchant), {"version": "1"}).status_code == 200
    assert "Other shop terms." in client.get(terms_page(other)).text
