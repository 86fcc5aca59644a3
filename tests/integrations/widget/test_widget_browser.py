"""The widget on a shop's page in a real browser (Debian's Chromium): a small shop served by
``http.server`` on its own port, with its own strict Content-Security-Policy and CSS that
would restyle any heading it reaches, embeds the script tag with a token made by the
README's Python example. Screenshots at 390 px and 1440 px go to
``var/screenshots/widget/``; axe-core checks each."""

import functools
import html
import http.server
import threading
from decimal import Decimal

import pytest

from loyalty.models import Tier
from merchants.models import MerchantBrand
from tests.catalog.factories import BrandFactory, RewardFactory, offered, select
from tests.config.test_csp_browser import Watch, screenshots
from tests.integrations.helpers import connected_store
from tests.integrations.widget.conftest import readme_token_maker
from tests.loyalty.factories import member_make, order_post, program_merchant
from tests.loyalty.segments.test_admin_browser import no_sideways_scroll
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

SHOP_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.6 Georgia, "Times New Roman", serif; color: #222;
  background: #faf7f2; }
header { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: center;
  padding: 1rem 1.5rem; background: #1f2933; }
header a { color: #fff; text-decoration: none; }
header .logo { font-size: 1.4rem; font-weight: bold; letter-spacing: .05em; }
nav { display: flex; gap: 1.25rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
/* A theme's headings: the widget's must not pick these up. */
h2 { font-size: 2rem; text-transform: uppercase; color: #8b1e3f; font-family: Impact, fantasy; }
ul { list-style: square; }
.layout { display: grid; gap: 2rem; }
@media (min-width: 60rem) { .layout { grid-template-columns: 1fr 26rem; align-items: start; } }
.orders { background: #fff; padding: 1rem 1.5rem; border: 1px solid #e3ddd3; }
footer { padding: 2rem 1.5rem; color: #555; text-align: center; }
"""


def shop_page(*, script_url: str, token: str | None) -> str:
    token_attribute = f' data-token="{html.escape(token)}"' if token else ""
    return f"""<!doctype html>
<html lang="en-US">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>My account · Fjord Gear</title>
<link rel="stylesheet" href="/shop.css">
</head>
<body>
<header>
  <a class="logo" href="/">Fjord Gear</a>
  <nav aria-label="Shop"><a href="/">Jackets</a><a href="/">Boots</a><a href="/">Sale</a></nav>
</header>
<main>
  <h1>My account</h1>
  <div class="layout">
    <section class="orders" aria-labelledby="orders">
      <h2 id="orders">Recent orders</h2>
      <ul><li>#1042 · Storm shell jacket · $1,840.00</li><li>#1043 · Wool socks · $120.00</li></ul>
    </section>
    <div data-loyalty-widget></div>
  </div>
</main>
<footer>Fjord Gear · Bergen</footer>
<script src="{html.escape(script_url)}"{token_attribute} defer></script>
</body>
</html>
"""


class ShopHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the shop's files with the strict policy a careful shop has: scripts and
    connections to itself and the loyalty host only, no inline script or style."""

    loyalty_origin = ""

    def end_headers(self) -> None:
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' {self.loyalty_origin}; "
            f"connect-src 'self' {self.loyalty_origin}; style-src 'self'; img-src 'self'; "
            "object-src 'none'; base-uri 'none'",
        )
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def shop_server(tmp_path, server_url):  # noqa: F811
    (tmp_path / "shop.css").write_text(SHOP_CSS)
    handler = type("Handler", (ShopHandler,), {"loyalty_origin": server_url})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def settled(page) -> None:  # noqa: F811
    """Once the progress bar has grown to its share (a transition)."""
    fill = page.locator("[data-loyalty-widget] .fill")
    page.wait_for_function(
        "() => document.querySelector('[data-loyalty-widget]').shadowRoot"
        ".querySelector('.fill').style.width !== ''"
    )
    fill.evaluate("f => Promise.all(f.getAnimations().map(a => a.finished))")


def widget_text(page) -> str:  # noqa: F811
    return page.locator("[data-loyalty-widget] section").inner_text()


def test_a_member_sees_their_points_tier_progress_and_rewards_on_the_shop(
    server_url,  # noqa: F811
    page,  # noqa: F811
    shop_server,
    settings,
):
    folder, domain = shop_server
    # The shop runs on plain http on this machine; in production only https is allowed.
    settings.WIDGET_ALLOW_HTTP_ORIGINS = True
    merchant, program = program_merchant(name="Fjord Rewards")
    merchant.name = "Fjord Gear"
    merchant.save(update_fields=["name"])
    MerchantBrand.objects.create(merchant=merchant, colour="#0f766e")
    program.tiers_enabled = True
    program.save(update_fields=["tiers_enabled"])
    Tier.objects.create(program=program, name="Silver", threshold=Decimal(500))
    Tier.objects.create(program=program, name="Gold", threshold=Decimal(2500))
    store, secret = connected_store(merchant, "shopify")
    store.domain = domain
    store.save(update_fields=["domain"])
    fjord = BrandFactory(name="Fjord Gear")
    coffee = BrandFactory(name="Trail Coffee Co.")
    trees = BrandFactory(name="One Tree Planted")
    select(
        merchant,
        offered(RewardFactory(brand=fjord, name="Insulated bottle", denominations=["3"])),
        offered(RewardFactory(brand=coffee, name="Coffee for two", denominations=["5"])),
        offered(RewardFactory(brand=trees, name="Plant ten trees", denominations=["10"])),
        offered(
            RewardFactory(brand=fjord, name="Fjord Gear gift card", denominations=["15", "50"])
        ),
        offered(RewardFactory(brand=fjord, name="Merino beanie", denominations=["25"])),
        price_step=1,
    )
    member = member_make(merchant, "shopify-7301", first_name="Ingrid", locale="en-US")
    order_post(merchant, member, "1840.00")
    program.pending_days = 30
    program.save(update_fields=["pending_days"])
    order_post(merchant, member, "120.00")

    make_token = readme_token_maker()
    script_url = f"{server_url}/widget/v1/{store.public_id}.js"
    (folder / "account.html").write_text(
        shop_page(
            script_url=script_url,
            token=make_token(secret, str(store.public_id), member.external_id),
        )
    )
    (folder / "index.html").write_text(shop_page(script_url=script_url, token=None))
    watch = Watch(page)

    page.goto(f"http://{domain}/account.html")
    widget = page.locator("[data-loyalty-widget] section")
    widget.get_by_role("link", name="Open your rewards account").wait_for()
    text = widget_text(page)
    for shown in (
        "Fjord Rewards",
        "Hi Ingrid",
        "Silver",
        "1,840",
        "Stars to spend",
        "120 Stars pending",
        "540 more Stars to reach Gold",
        "Rewards you can get now",
        "Fjord Gear gift card",
        "from 1,500 Stars",
        "Plant ten trees",
        "1,000 Stars",
        "and 1 more in your account",
    ):
        assert shown in text, (shown, text)
    assert "Merino beanie" not in text  # 2,500 Stars: out of reach
    bar = widget.get_by_role("progressbar", name="Progress to Gold")
    assert bar.get_attribute("aria-valuenow") == "78"
    link = widget.get_by_role("link", name="Open your rewards account")
    assert link.get_attribute("href") == f"{server_url}/m/{merchant.slug}/"
    # The shop's CSS does not reach in: its headings are uppercase Impact in wine red.
    heading = widget.get_by_role("heading", name="Fjord Rewards")
    transform, family, colour = heading.evaluate(
        "h => { const s = getComputedStyle(h); return [s.textTransform, s.fontFamily, s.color] }"
    )
    assert transform == "none"
    assert "Impact" not in family
    assert colour != "rgb(139, 30, 63)"
    # Keyboard: the link is reached with Tab after the shop's own links.
    for _ in range(10):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const r = document.querySelector('[data-loyalty-widget]').shadowRoot;"
            " return r.activeElement ? r.activeElement.textContent : null }"
        )
        if focused:
            break
    assert focused == "Open your rewards account"
    page.evaluate("() => document.activeElement.blur()")
    settled(page)
    watch.assert_clean("the shop's account page with the widget")
    no_sideways_scroll(page, "the shop's account page")
    screenshots(page, "widget/member")

    # Less motion asked for: the bar is drawn at once.
    page.emulate_media(reduced_motion="reduce")
    page.reload()
    widget.get_by_role("progressbar").wait_for()
    duration = widget.locator(".fill").evaluate("f => getComputedStyle(f).transitionDuration")
    assert duration == "0s"

    # A new member: no tier yet, nothing affordable: what is missing for the first reward.
    newcomer = member_make(merchant, "shopify-7302", first_name="Ola", locale="nb-NO")
    order_post(merchant, newcomer, "150.00")
    (folder / "newcomer.html").write_text(
        shop_page(
            script_url=script_url,
            token=make_token(secret, str(store.public_id), newcomer.external_id),
        )
    )
    page.goto(f"http://{domain}/newcomer.html")
    widget.get_by_role("link", name="Open your rewards account").wait_for()
    settled(page)
    text = widget_text(page)
    for shown in ("Hi Ola", "150 Stars pending", "350 more Stars to reach Silver"):
        assert shown in text, (shown, text)
    assert widget.get_by_role("heading", name="Your next reward").is_visible()
    assert "Insulated bottle\nFjord Gear\n300 Stars" in text
    assert "300 more Stars to go" in text  # the 150 are pending
    assert "Rewards you can get now" not in text
    watch.assert_clean("the shop's page for a new member")
    screenshots(page, "widget/newcomer")

    # Not signed in: the invitation, with the portal link.
    page.emulate_media(reduced_motion="no-preference")
    page.goto(f"http://{domain}/index.html")
    widget.get_by_role("link", name="Join now").wait_for()
    assert widget.get_by_role("heading", name="Join Fjord Rewards").is_visible()
    assert "Earn Stars on every order" in widget_text(page)
    assert widget.get_by_role("link", name="Join now").get_attribute("href") == (
        f"{server_url}/m/{merchant.slug}/"
    )
    watch.assert_clean("the shop's page for a visitor")
    screenshots(page, "widget/join")

    # A token the shop signed with something else: a neutral state, never an error page.
    (folder / "stale.html").write_text(shop_page(script_url=script_url, token="x:1:" + "0" * 64))
    page.goto(f"http://{domain}/stale.html")
    widget.get_by_role("link", name="Open your rewards account").wait_for()
    assert "See your Stars and rewards in your account." in widget_text(page)
    watch.assert_clean("the shop's page with a refused token")
