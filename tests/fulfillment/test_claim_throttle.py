"""One claim link takes only so many POSTs (showing the code, the PDF) in a window
(``settings.CLAIM_POST_RATE``); the one past the limit gets a friendly page in the
member's language, status 429 with Retry-After, and shows, records and claims nothing."""

import re
import time

import pytest
from django.conf import settings
from django.core.cache import cache

from core.actors import Actor
from fulfillment.link_throttle import link_post_count
from fulfillment.models import CodeReveal, Redemption, RedemptionEvent
from fulfillment.services import delivery
from tests.fulfillment.test_claim import assert_private
from tests.fulfillment.test_delivery import BASE_URL, delivered, the_code

pytestmark = pytest.mark.django_db


def written(redemption: Redemption) -> tuple:
    redemption.refresh_from_db()
    return (
        CodeReveal.objects.filter(code__redemption=redemption).count(),
        RedemptionEvent.objects.filter(redemption=redemption).count(),
        redemption.delivery_status,
    )


def test_one_post_past_the_limit_is_refused_with_429_and_writes_nothing(client):
    limit, window = settings.CLAIM_POST_RATE
    redemption = delivered()
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )
    page = f"/claim/{delivery.claim_token(redemption)}/"
    code = the_code(redemption)
    for _ in range(limit - 1):
        assert client.post(page).status_code == 200
    assert client.post(f"{page}voucher.pdf")["Content-Type"] == "application/pdf"
    before = written(redemption)
    assert before[0] == limit

    for refused in (client.post(page), client.post(f"{page}voucher.pdf")):
        assert refused.status_code == 429
        assert refused["Content-Type"].startswith("text/html")
        assert 0 < int(refused["Retry-After"]) <= window
        assert_private(refused)
        html = refused.content.decode()
        assert "Please wait a few minutes" in html
        assert f'href="{page}"' in html  # back to the reward
        assert code.code not in html
        assert code.pin not in html
        assert "<svg" not in html
    assert written(redemption) == before
    # Opening the link still shows the reward (without its code).
    assert client.get(page).status_code == 200


def test_another_link_has_its_own_count(client):
    limit, _ = settings.CLAIM_POST_RATE
    first, second = delivered(), delivered()
    first_page = f"/claim/{delivery.claim_token(first)}/"
    for _ in range(limit + 1):
        client.post(first_page)

    assert client.post(f"/claim/{delivery.claim_token(second)}/").status_code == 200


def test_the_refusal_speaks_the_members_language(client):
    limit, _ = settings.CLAIM_POST_RATE
    redemption = delivered(locale="ar")
    page = f"/claim/{delivery.claim_token(redemption)}/"
    for _ in range(limit):
        client.post(page)

    html = client.post(page).content.decode()

    assert '<html lang="ar" dir="rtl"' in html
    assert "يُرجى الانتظار بضع دقائق" in html
    assert "Please wait" not in html


def test_a_bad_link_is_not_counted_and_stays_a_404(client):
    for _ in range(settings.CLAIM_POST_RATE[0] + 1):
        assert client.post("/claim/nonsense/").status_code == 404


def test_the_window_closes_and_the_link_posts_again():
    rate = (2, 1)
    token = "some-token-" + str(time.time())
    assert link_post_count(scope="test", token=token, rate=rate) is None
    assert link_post_count(scope="test", token=token, rate=rate) is None
    assert link_post_count(scope="test", token=token, rate=rate) == 1

    time.sleep(1.1)

    assert link_post_count(scope="test", token=token, rate=rate) is None


def test_the_cache_holds_a_digest_of_the_token_never_the_token():
    token = "secret-token-" + str(time.time())
    link_post_count(scope="test", token=token, rate=(5, 60))

    keys = list(cache._cache)  # the test settings' local-memory cache
    assert keys
    assert not [key for key in keys if token in key]
    assert [key for key in keys if re.search(r"link-posts:test:[0-9a-f]{40}:count", key)]
