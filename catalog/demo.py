"""Demo data for the development run: a global catalog of rewards of every type in many
countries and currencies, its brands (with logos drawn here), suppliers and their offers,
the exchange rates it needs, and the selection of each merchant that has a program.

Running it again matches everything on its slug: descriptive data (brands, categories,
suppliers, rewards) is brought back to what is written here, operational data (offer
stock, code pools, merchants' items and their pricing terms, rates) is kept as it is,
and an image is drawn only when its field has no file yet."""

import datetime
import hashlib
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone, translation

from catalog import denominations, services
from catalog.demo_images import draw_card, draw_logo
from catalog.models import (
    Brand,
    Category,
    CodePool,
    DenominationKind,
    Reward,
    RewardStatus,
    RewardType,
    Supplier,
    SupplierKind,
    SupplierOffer,
)
from catalog.pools import codes_upload
from core.actors import Actor
from core.money import quantize_places
from loyalty.demo import USD_RATES
from loyalty.models import ExchangeRate, Program
from merchants.demo import DEMO_MERCHANTS
from merchants.models import Merchant

# One US dollar in each currency: the loyalty demo's figures plus the catalog's own.
USD_PER_UNIT = {"USD": "1", **USD_RATES, "KWD": "0.307"}
RATES_AS_OF = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
DEMO = Actor.system("demo")

# slug: English name, other locales
CATEGORIES: dict[str, tuple[str, dict[str, str]]] = {
    "shopping": ("Shopping", {"fr": "Shopping", "de": "Einkaufen", "ja": "ショッピング"}),
    "fashion": ("Fashion", {"fr": "Mode", "de": "Mode", "ja": "ファッション"}),
    "dining": ("Food & drink", {"fr": "Restauration", "de": "Essen & Trinken", "ja": "グルメ"}),
    "entertainment": ("Entertainment", {"fr": "Divertissement", "de": "Unterhaltung"}),
    "gaming": ("Gaming", {"fr": "Jeux vidéo", "de": "Gaming", "ja": "ゲーム"}),
    "books": ("Books", {"fr": "Livres", "de": "Bücher", "ja": "本"}),
    "groceries": ("Groceries", {"fr": "Épicerie", "de": "Lebensmittel", "ar": "بقالة"}),
    "outdoors": ("Outdoors", {"fr": "Plein air", "de": "Outdoor"}),
    "charity": ("Charity", {"fr": "Solidarité", "de": "Spenden", "ja": "寄付"}),
    "travel": ("Travel & experiences", {"fr": "Voyages et expériences", "ja": "旅行・体験"}),
}

# slug, name, colour, categories, description
BRANDS = [
    ("harbor-pine", "Harbor & Pine", "#1f4e79", "shopping fashion", "A department store."),
    ("caffe-aurora", "Caffè Aurora", "#6f3b1e", "dining", "Espresso bars and pastries."),
    ("stream-nine", "Stream Nine", "#3a1c71", "entertainment", "Films, series and sport."),
    ("pixelplay", "PixelPlay", "#0f7b6c", "gaming", "Games, add-ons and subscriptions."),
    ("kaze-books", "Kaze Books", "#b23a48", "books", "Bookshops with stationery and cafés."),
    ("oasis-market", "Oasis Market", "#a8650f", "groceries", "Groceries across the Gulf."),
    ("atelier-nord", "Atelier Nord", "#2d3142", "fashion", "Scandinavian clothing."),
    ("trailhead", "Trailhead Supply", "#2f5d50", "outdoors", "Hiking and camping gear."),
    ("greenleaf", "Greenleaf Foundation", "#2e7d32", "charity", "Trees, coasts, school meals."),
    ("wayfarer", "Wayfarer Experiences", "#0b6e99", "travel", "Tours with local guides."),
    ("southern-cross", "Southern Cross Cinemas", "#8e1b1b", "entertainment", "Cinemas."),
    ("maple-grocer", "Maple Grocer", "#9c2f1c", "groceries", "Canada's local grocer."),
]
BRAND_I18N: dict[str, dict[str, str]] = {
    "harbor-pine": {"fr": "Un grand magasin.", "de": "Ein Kaufhaus."},
    "caffe-aurora": {
        "fr": "Bars à espresso et viennoiseries.",
        "de": "Espressobars und Gebäck.",
        "it": "Bar espresso e pasticceria.",
        "ja": "エスプレッソとペストリーのカフェ。",
    },
    "kaze-books": {"ja": "文房具とカフェも楽しめる書店。"},
    "oasis-market": {"ar": "بقالة طازجة في جميع أنحاء الخليج."},
    "greenleaf": {
        "fr": "Des arbres, des côtes propres, des repas scolaires.",
        "de": "Bäume, saubere Küsten, Schulessen.",
        "ja": "植林、海岸清掃、学校給食の支援。",
    },
    "wayfarer": {"fr": "Des visites avec des guides locaux.", "ja": "地元ガイドの体験ツアー。"},
}

GC, VO, PH = RewardType.GIFT_CARD, RewardType.VOUCHER, RewardType.PHYSICAL
DO, EX = RewardType.DONATION, RewardType.EXPERIENCE
EU = "FR DE IT ES NL"

# slug (it starts with its brand's), type, name, countries, "currency values" where the
# values are a fixed list ("25 50 100") or a range ("10-500/5": minimum-maximum/step).
REWARDS = [
    ("harbor-pine-gift-card-us", GC, "Harbor & Pine gift card", "US", "USD 25 50 100"),
    ("harbor-pine-egift-ca", GC, "Harbor & Pine e-gift card", "CA", "CAD 10-500/5"),
    ("caffe-aurora-card-us", GC, "Caffè Aurora gift card", "US", "USD 5 10 25"),
    ("caffe-aurora-card-eu", GC, "Caffè Aurora gift card", EU, "EUR 5 10 20 50"),
    ("caffe-aurora-card-uk", GC, "Caffè Aurora gift card", "GB", "GBP 5 10 25"),
    ("stream-nine-card-us", GC, "Stream Nine gift card", "US CA AE", "USD 15 30 60"),
    ("stream-nine-card-eu", GC, "Stream Nine gift card", EU, "EUR 15 30 60"),
    ("stream-nine-card-jp", GC, "Stream Nine gift card", "JP", "JPY 1500 3000 5000 10000"),
    ("pixelplay-wallet-us", GC, "PixelPlay wallet top-up", "US CA AE", "USD 10-100/5"),
    ("pixelplay-card-uk", GC, "PixelPlay gift card", "GB", "GBP 10 20 50"),
    ("pixelplay-card-au", GC, "PixelPlay gift card", "AU", "AUD 20 50 100"),
    ("pixelplay-wallet-jp", GC, "PixelPlay wallet top-up", "JP", "JPY 1000-20000/500"),
    ("kaze-books-card", GC, "Kaze Books gift card", "JP", "JPY 1000 3000 5000 10000"),
    ("oasis-market-card-ae", GC, "Oasis Market gift card", "AE", "AED 50 100 250 500"),
    ("oasis-market-card-kw", GC, "Oasis Market gift card", "KW", "KWD 2.500 5 10 25"),
    ("oasis-market-egift-kw", GC, "Oasis Market e-gift card", "KW", "KWD 1.500-30/0.250"),
    ("southern-cross-card-au", GC, "Southern Cross gift card", "AU", "AUD 25 50"),
    ("southern-cross-card-nz", GC, "Southern Cross gift card", "NZ", "NZD 25 50"),
    ("maple-grocer-card", GC, "Maple Grocer gift card", "CA", "CAD 25 50 100"),
    ("atelier-nord-card-no", GC, "Atelier Nord gift card", "NO", "NOK 200-5000/100"),
    ("harbor-pine-20-off", VO, "$20 off at Harbor & Pine", "US", "USD 20"),
    ("atelier-nord-15-off", VO, "€15 off at Atelier Nord", "FR DE NL", "EUR 15"),
    ("atelier-nord-10-off-uk", VO, "£10 off at Atelier Nord", "GB", "GBP 10"),
    ("caffe-aurora-drink-jp", VO, "Caffè Aurora drink voucher", "JP", "JPY 600"),
    ("oasis-market-delivery", VO, "Oasis Market free delivery", "AE", "AED 25"),
    ("trailhead-bottle", PH, "Trailhead insulated bottle", "US CA", "USD 35"),
    ("trailhead-blanket", PH, "Trailhead camp blanket", "FR DE", "EUR 60"),
    ("trailhead-headlamp", PH, "Trailhead rechargeable headlamp", "GB", "GBP 30"),
    ("kaze-books-tote", PH, "Kaze Books canvas tote", "JP", "JPY 2500"),
    ("oasis-market-dates-box", PH, "Oasis Market dates gift box", "AE KW", "AED 120"),
    ("greenleaf-trees", DO, "Plant trees with Greenleaf", "US CA", "USD 5-500/5"),
    ("greenleaf-coasts-eu", DO, "Clean a coastline with Greenleaf", EU, "EUR 5-250/5"),
    ("greenleaf-meadows-uk", DO, "Rewild a meadow with Greenleaf", "GB", "GBP 5-200/5"),
    ("greenleaf-meals-jp", DO, "Fund school meals", "JP", "JPY 500 1000 3000"),
    ("greenleaf-relief", DO, "Greenleaf emergency relief", "US FR DE GB JP AE AU", "USD 10 25 50"),
    ("greenleaf-water-gulf", DO, "Fund clean water", "KW AE", "KWD 1 5 10.500"),
    ("wayfarer-balloon-loire", EX, "Hot-air balloon over the Loire", "FR US GB", "EUR 199"),
    ("wayfarer-tea-kyoto", EX, "Tea ceremony in Kyoto", "JP", "JPY 8000"),
    ("wayfarer-safari-dubai", EX, "Desert safari with dinner", "AE", "AED 350"),
    ("wayfarer-thames-cruise", EX, "Thames evening cruise", "GB", "GBP 45"),
    ("wayfarer-food-tour-nyc", EX, "New York food tour for two", "US", "USD 89"),
    ("wayfarer-kayak-sydney", EX, "Sydney Harbour kayak tour", "AU", "AUD 149"),
]
# Units each country's offer holds, for physical items.
STOCK = {
    "trailhead-bottle": 120,
    "trailhead-blanket": 40,
    "trailhead-headlamp": 75,
    "kaze-books-tote": 200,
    "oasis-market-dates-box": 60,
}
DESCRIPTIONS = {
    "harbor-pine-20-off": "A one-time code for $20 off an order of $80 or more.",
    "trailhead-bottle": "750 ml, keeps drinks cold for 24 hours. Ships in 5 to 7 days.",
    "greenleaf-trees": "Every 5 USD plants two trees in a reforestation project.",
    "greenleaf-coasts-eu": "Every 5 EUR clears 10 kg of plastic from a beach.",
}
# locale: (name, description)
REWARD_I18N: dict[str, dict[str, tuple[str, str]]] = {
    "caffe-aurora-card-eu": {
        "fr": ("Carte cadeau Caffè Aurora", "Valable dans tous les cafés Caffè Aurora."),
        "de": ("Caffè Aurora Geschenkkarte", "Gültig in allen Caffè Aurora Cafés."),
        "it": ("Carta regalo Caffè Aurora", "Valida in tutti i locali Caffè Aurora."),
    },
    "stream-nine-card-jp": {"ja": ("Stream Nine ギフトカード", "視聴料金のお支払いに使えます。")},
    "kaze-books-card": {"ja": ("Kaze Books 図書カード", "全国のKaze Books各店で使えます。")},
    "oasis-market-card-ae": {"ar": ("بطاقة هدايا أوازيس ماركت", "صالحة في جميع المتاجر.")},
    "atelier-nord-15-off": {
        "fr": ("15 € de réduction chez Atelier Nord", "Un code à usage unique en ligne."),
        "de": ("15 € Rabatt bei Atelier Nord", "Ein einmaliger Code für den Onlineshop."),
    },
    "trailhead-blanket": {
        "fr": ("Couverture de camping Trailhead", "Une couverture chaude et compacte."),
        "de": ("Trailhead Campingdecke", "Eine warme, kompakte Decke."),
    },
    "greenleaf-coasts-eu": {
        "fr": ("Nettoyer le littoral avec Greenleaf", "5 € retirent 10 kg de plastique."),
        "de": ("Küsten säubern mit Greenleaf", "5 € entfernen 10 kg Plastik."),
    },
    "greenleaf-meals-jp": {"ja": ("学校給食を支援する", "500円で1週間分の給食になります。")},
    "wayfarer-balloon-loire": {
        "fr": ("Montgolfière au-dessus de la Loire", "Une heure de vol au lever du soleil.")
    },
    "wayfarer-tea-kyoto": {"ja": ("京都で茶道体験", "町家で楽しむ90分の茶道体験。")},
}

# Per type: recipient fields, months the delivered reward stays valid, terms.
TYPE_TERMS: dict[str, tuple[list[str], int | None, str]] = {
    GC: (["email"], 36, "Not redeemable for cash. Lost cards are not replaced."),
    VO: (["email"], 12, "One use per order; not combined with other offers."),
    PH: (["email", "phone", "postal_address"], None, "Returns for damaged items only."),
    DO: (["email"], None, "Donations are passed on in full and cannot be reversed."),
    EX: (["email", "phone"], 12, "Book at least 7 days ahead; subject to availability."),
}
# Per type: the description of a reward that has none of its own.
DESCRIBED = {
    GC: "{brand} gift card, delivered by e-mail within minutes: {caption}.",
    VO: "One-time {brand} discount code, delivered by e-mail: {caption}.",
    PH: "{name}, shipped to your door by {brand}.",
    DO: "Your points become a donation to {brand}: {caption}.",
    EX: "{name}, hosted by {brand}. Book within a year of delivery.",
}
CARD_LABELS = {GC: "Gift card", VO: "Voucher", PH: "Shipped", DO: "Donation", EX: "Experience"}
# Per type: supplier slug, name, kind, adapter, invoice currency, discount %.
SUPPLIERS = {
    GC: ("giftlink", "GiftLink Global", SupplierKind.AGGREGATOR, "sandbox", "USD", "4.5"),
    VO: ("warehouse", "Provider code warehouse", SupplierKind.WAREHOUSE, "code_pool", "USD", "0"),
    PH: ("parcelworks", "ParcelWorks", SupplierKind.PRINT_SHIP, "manual", "EUR", "12"),
    DO: ("common-good", "Common Good Giving", SupplierKind.CHARITY, "manual", "USD", "0"),
    EX: ("wayfarer-direct", "Wayfarer Direct", SupplierKind.AGGREGATOR, "sandbox", "EUR", "10"),
}
# A second gift-card aggregator, tried after the first where it covers the country.
BACKUP_SUPPLIER = ("cardbridge", "CardBridge", SupplierKind.AGGREGATOR, "sandbox", "GBP", "3")
BACKUP_COUNTRIES = {"US", "GB", "DE", "FR"}
# Shipping per unit, in the item's face currency.
SHIPPING_FEE = {"USD": "4", "EUR": "4", "GBP": "3.50", "JPY": "300", "AED": "15"}
POOL_REWARD = "harbor-pine-20-off"
POOL_CODES = 12

# Merchants' pricing terms by program currency: margin %, price step in points.
SELECTION_TERMS = {"JPY": ("6", 10), "AED": ("5", 25)}
DEFAULT_SELECTION_TERMS = ("5", 50)


@dataclass(frozen=True)
class RewardSpec:
    slug: str
    brand: str
    type: str
    name: str
    countries: tuple[str, ...]
    currency: str
    values: tuple[Decimal, ...]  # a fixed list
    range: tuple[Decimal, Decimal, Decimal] | None  # minimum, maximum, step

    @classmethod
    def parse(cls, row: tuple[str, str, str, str, str]) -> "RewardSpec":
        slug, type_, name, countries, amounts = row
        brand = max((b[0] for b in BRANDS if slug.startswith(b[0] + "-")), key=len)
        currency, *values = amounts.split()
        bounds = None
        if "-" in values[0]:
            span, step = values[0].split("/")
            low, high = span.split("-")
            bounds = (Decimal(low), Decimal(high), Decimal(step))
            values = []
        return cls(
            slug=slug,
            brand=brand,
            type=type_,
            name=name,
            countries=tuple(countries.split()),
            currency=currency,
            values=tuple(sorted(Decimal(value) for value in values)),
            range=bounds,
        )

    def caption(self) -> str:
        def text(value: Decimal) -> str:
            whole = value == value.to_integral_value()
            return f"{value:.0f}" if whole else denominations.canonical(value, self.currency)

        if self.range:
            return f"{text(self.range[0])} to {text(self.range[1])} {self.currency}"
        return f"{' · '.join(map(text, self.values))} {self.currency}"


def _has_file(file: FieldFile) -> bool:
    return bool(file.name) and file.storage.exists(file.name)


def _store(file: FieldFile, name: str, content: ContentFile) -> None:
    """Save a drawing under its own name. A file left there by an earlier database (a
    development database reset, a test run) is replaced rather than kept beside a
    renamed copy, so that seeding again and again never piles up copies."""
    target = file.field.generate_filename(file.instance, name)
    if file.storage.exists(target):
        file.storage.delete(target)
    file.save(name, content, save=False)


# -- catalog -----------------------------------------------------------------------------


def _categories() -> dict[str, Category]:
    found = {}
    for slug, (name, i18n) in CATEGORIES.items():
        texts = {"name": name, "name_en": name, **{f"name_{k}": v for k, v in i18n.items()}}
        found[slug], _ = Category.objects.update_or_create(slug=slug, defaults=texts)
    return found


def _brands(categories: dict[str, Category]) -> dict[str, Brand]:
    found = {}
    for slug, name, colour, category_slugs, description in BRANDS:
        texts = {
            "description": description,
            "terms": f"{name} cards and codes are subject to {name}'s terms of use.",
            "redemption_instructions": "Follow the link in the delivery e-mail.",
        }
        fields: dict[str, Any] = {"name": name, **texts}
        fields.update({f"{field}_en": text for field, text in texts.items()})
        for code, text in BRAND_I18N.get(slug, {}).items():
            fields[f"description_{code}"] = text
        brand, _ = Brand.objects.update_or_create(slug=slug, defaults=fields)
        brand.categories.set([categories[c] for c in category_slugs.split()])
        drawn = []
        if not _has_file(brand.logo):
            _store(brand.logo, f"{slug}.png", draw_logo(name, colour))
            drawn.append("logo")
        if not _has_file(brand.card_image):
            kinds = " · ".join(CATEGORIES[c][0] for c in category_slugs.split())
            card = draw_card(brand=name, colour=colour, title=name, caption=kinds, corner="")
            _store(brand.card_image, f"{slug}.png", card)
            drawn.append("card_image")
        if drawn:
            brand.save(update_fields=drawn)
        found[slug] = brand
    return found


def _suppliers() -> dict[str, Supplier]:
    found = {}
    for slug, name, kind, adapter, currency, _ in [*SUPPLIERS.values(), BACKUP_SUPPLIER]:
        fields = {"name": name, "kind": kind, "adapter": adapter, "invoice_currency": currency}
        found[slug], _ = Supplier.objects.update_or_create(slug=slug, defaults=fields)
    return found


def _reward_state(reward: Reward) -> tuple:
    """What the seed writes of a reward (its status aside), to compare before and after."""
    bounds = (reward.min_value, reward.max_value, reward.step)
    return (
        reward.brand_id,
        reward.type,
        tuple(sorted(country.code for country in reward.countries)),
        reward.face_currency,
        reward.denomination_kind,
        tuple(reward.denominations),
        *(None if value is None else Decimal(value).normalize() for value in bounds),
        tuple(sorted(reward.recipient_fields)),
        reward.delivered_expiry_months,
        *(
            getattr(reward, f"{name}_{code}") or ""
            for name in ("name", "description", "terms")
            for code, _ in settings.LANGUAGES
        ),
    )


def _reward(spec: RewardSpec, brand: Brand, colour: str) -> tuple[Reward, bool]:
    """Create the reward, or bring it back to ``spec``; True when it was written."""
    reward = Reward.objects.filter(slug=spec.slug).first()
    before = None
    if reward is None:
        # Only a new reward is activated: one paused by the Catalog team stays paused.
        reward = Reward(slug=spec.slug, status=RewardStatus.ACTIVE)
    else:
        before = _reward_state(reward)
    recipients, expiry_months, terms = TYPE_TERMS[spec.type]
    reward.brand = brand
    reward.type = spec.type
    reward.countries = list(spec.countries)
    reward.face_currency = spec.currency
    reward.recipient_fields = sorted(recipients)
    reward.delivered_expiry_months = expiry_months
    if spec.range:
        reward.denomination_kind = DenominationKind.RANGE
        reward.denominations = []
        reward.min_value, reward.max_value, reward.step = spec.range
    else:
        reward.denomination_kind = DenominationKind.FIXED
        reward.denominations = [denominations.canonical(v, spec.currency) for v in spec.values]
        reward.min_value = reward.max_value = reward.step = None
    description = DESCRIPTIONS.get(spec.slug) or DESCRIBED[spec.type].format(
        brand=brand.name, caption=spec.caption(), name=spec.name
    )
    for name, text in (("name", spec.name), ("description", description), ("terms", terms)):
        setattr(reward, name, text)
        setattr(reward, f"{name}_en", text)
    for code, (name, text) in REWARD_I18N.get(spec.slug, {}).items():
        setattr(reward, f"name_{code}", name)
        setattr(reward, f"description_{code}", text)
    write = before is None or _reward_state(reward) != before
    if not _has_file(reward.image):
        card = draw_card(
            brand=brand.name,
            colour=colour,
            title=spec.name,
            caption=spec.caption(),
            corner=CARD_LABELS[spec.type],
        )
        _store(reward.image, f"{spec.slug}.png", card)
        write = True
    if write:
        services.reward_save(reward=reward, actor=DEMO)
    return reward, write


def _offers(spec: RewardSpec, reward: Reward, suppliers: dict[str, Supplier]) -> int:
    """One offer per country (two for gift cards where the backup aggregator sells them);
    an existing offer is kept as it is, with the stock it has left."""
    main = SUPPLIERS[spec.type]
    sources = [(main[0], main[5], 100)]
    if spec.type == GC:
        sources.append((BACKUP_SUPPLIER[0], BACKUP_SUPPLIER[5], 200))
    fee = Decimal(SHIPPING_FEE.get(spec.currency, "0") if spec.type == PH else 0)
    created = 0
    for country in spec.countries:
        for supplier_slug, discount, preference in sources:
            if preference > 100 and country not in BACKUP_COUNTRIES:
                continue
            _, new = SupplierOffer.objects.get_or_create(
                supplier=suppliers[supplier_slug],
                supplier_sku=spec.slug.upper(),
                country=country,
                defaults={
                    "reward": reward,
                    "cost_currency": spec.currency,
                    "discount_percent": Decimal(discount),
                    "fee": fee,
                    "stock": STOCK.get(spec.slug),
                    "preference": preference,
                },
            )
            created += new
    return created


def _code_pool(reward: Reward) -> int:
    """The voucher's pool, with demo codes uploaded once (while it has none at all, so
    codes delivered since are not topped up again). Returns how many were uploaded."""
    offer = reward.offers.filter(supplier__kind=SupplierKind.WAREHOUSE).order_by("pk").first()
    if offer is None:
        return 0
    face_value = denominations.parse_value(reward.denominations[0])
    pool, _ = CodePool.objects.get_or_create(
        offer=offer, defaults={"face_value": face_value, "low_stock_threshold": 5}
    )
    if pool.codes.exists():
        return 0
    expires_on = timezone.localdate() + datetime.timedelta(days=365)
    rows = ["code,expires_on"]
    for n in range(1, POOL_CODES + 1):
        token = hashlib.sha256(f"{reward.slug}:{n}".encode()).hexdigest()[:10].upper()
        rows.append(f"DEMO-{token},{expires_on:%Y-%m-%d}")
    return codes_upload(pool=pool, csv_text="\n".join(rows), actor=DEMO).created


def _rates() -> int:
    """Every pair of the demo currencies at one date, so that any face, cost or program
    currency converts to any other (by the stored pair or its inverse)."""
    created = 0
    for pair in itertools.combinations(sorted(USD_PER_UNIT), 2):
        if "USD" in pair:
            base, quote = "USD", pair[1] if pair[0] == "USD" else pair[0]
        else:
            # The stronger currency as the base keeps the stored rate above one.
            base, quote = sorted(pair, key=lambda code: Decimal(USD_PER_UNIT[code]))
        rate = Decimal(USD_PER_UNIT[quote]) / Decimal(USD_PER_UNIT[base])
        _, new = ExchangeRate.objects.get_or_create(
            base=base,
            quote=quote,
            as_of=RATES_AS_OF,
            defaults={"rate": quantize_places(rate, 10), "source": "demo"},
        )
        created += new
    return created


def _selections(rewards: list[Reward]) -> tuple[int, int]:
    """Each demo merchant with a program offers the rewards of its own country; rewards
    already in its catalog keep their terms. Returns (merchants, items added)."""
    merchants = Merchant.objects.filter(
        slug__in=[spec["slug"] for spec in DEMO_MERCHANTS],
        pk__in=Program.objects.filter(is_active=True).values("merchant_id"),
    ).order_by("pk")
    added = 0
    for merchant in merchants:
        margin, step = SELECTION_TERMS.get(merchant.default_currency, DEFAULT_SELECTION_TERMS)
        local = [r for r in rewards if merchant.country.code in {c.code for c in r.countries}]
        added += len(
            services.catalog_items_add(
                merchant=merchant,
                rewards=local,
                actor=DEMO,
                margin_percent=Decimal(margin),
                price_step=step,
            )
        )
    return len(merchants), added


def seed(*, out: TextIO) -> None:
    specs = [RewardSpec.parse(row) for row in REWARDS]
    colours = {slug: colour for slug, _, colour, _, _ in BRANDS}
    with translation.override(settings.MODELTRANSLATION_DEFAULT_LANGUAGE), transaction.atomic():
        rates = _rates()
        brands = _brands(_categories())
        suppliers = _suppliers()
        rewards, written, offers = [], 0, 0
        for spec in specs:
            reward, wrote = _reward(spec, brands[spec.brand], colours[spec.brand])
            rewards.append(reward)
            written += wrote
            offers += _offers(spec, reward, suppliers)
        codes = _code_pool(next(reward for reward in rewards if reward.slug == POOL_REWARD))
        merchants, items = _selections(rewards)
    out.write(
        f"Demo catalog: {len(rewards)} rewards ({written} created or updated), "
        f"{len(brands)} brands, {offers} new offers, {codes} voucher codes uploaded, "
        f"{rates} new exchange rates; "
        f"{items} items added to the catalogs of {merchants} merchants.\n"
    )
