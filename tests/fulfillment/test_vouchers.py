"""PDF vouchers, drawn by WeasyPrint: a real PDF with the code, the PIN and the brand."""

import io
import re
import zlib
from decimal import Decimal

import pytest

from catalog.models import RewardType
from fulfillment import vouchers
from fulfillment.models import DeliveredCode
from tests.fulfillment.test_delivery import delivered, the_code

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    """The PDF's text runs, each decoded through every font's ToUnicode map, one per line.

    WeasyPrint writes text as glyph ids in compressed streams; pypdf would read it but is
    not a dependency, so this reads the little that WeasyPrint writes: Flate streams,
    ``bfchar`` / ``bfrange`` maps and ``[<hex>...] TJ`` runs."""
    try:
        from pypdf import PdfReader
    except ImportError:
        pass
    else:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    streams = []
    for match in re.finditer(rb"/Length (\d+)\s*>>\s*stream\r?\n", data):
        raw = data[match.end() : match.end() + int(match[1])]
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    maps = []
    for stream in streams:
        if b"begincmap" not in stream:
            continue
        glyphs: dict[str, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for src, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                glyphs[src.decode().lower()] = bytes.fromhex(dst.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
            for lo, hi, dst in re.findall(
                rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block
            ):
                first = int.from_bytes(bytes.fromhex(dst.decode()), "big")
                for offset, gid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    glyphs[f"{gid:04x}"] = chr(first + offset)
        maps.append(glyphs)
    runs = [
        re.findall(rb"<([0-9a-fA-F]+)>", run)
        for stream in streams
        for run in re.findall(rb"\[([^\]]*)\]\s*TJ", stream)
    ]
    lines = []
    for glyphs in maps:
        for run in runs:
            hexes = b"".join(run).decode().lower()
            lines.append(
                "".join(glyphs.get(hexes[i : i + 4], "\ufffd") for i in range(0, len(hexes), 4))
            )
    return "\n".join(lines)


def test_the_voucher_is_a_real_pdf_with_the_code_pin_brand_and_value():
    redemption = delivered(logo=True, terms="Valid in US stores only.")
    code = the_code(redemption)

    pdf = vouchers.voucher_pdf(redemption)

    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    text = pdf_text(pdf)
    assert code.code in text
    assert code.pin in text
    assert redemption.reward.brand.name in text
    assert "$25.00" in text
    assert "Valid in US stores only." in text
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf  # the logo, embedded


def test_the_voucher_shows_every_code_of_a_redemption():
    redemption = delivered()
    first = the_code(redemption)
    DeliveredCode.objects.create(
        redemption=redemption,
        supplier_order=first.supplier_order,
        code="SECOND-CODE-7788",
        pin="",
    )

    text = pdf_text(vouchers.voucher_pdf(redemption))

    assert first.code in text
    assert "SECOND-CODE-7788" in text


def test_the_voucher_is_in_the_members_language():
    redemption = delivered(
        locale="fr", reward_type=RewardType.VOUCHER, name="Voucher", name_fr="Bon cadeau"
    )

    text = pdf_text(vouchers.voucher_pdf(redemption))

    assert "Bon cadeau" in text
    assert "25,00" in text


def test_the_expiry_is_the_suppliers_date_else_the_rewards_validity():
    redemption = delivered()
    code = the_code(redemption)
    delivered_on = redemption.delivered_at.date()

    assert vouchers.code_expiry(code, redemption) == delivered_on.replace(
        year=delivered_on.year + 1
    )
    code.expires_on = delivered_on
    assert vouchers.code_expiry(code, redemption) == delivered_on


@pytest.mark.parametrize(
    ("locale", "language"),
    [("fr", "fr"), ("fr-CA", "fr"), ("fr_FR", "fr"), ("de-DE", "de"), ("xx", "en"), ("", "en")],
)
def test_a_members_locale_maps_to_a_catalog_language(locale, language):
    redemption = delivered(deliver=False)
    redemption.member.locale = locale

    assert vouchers.member_language(redemption.member) == language


def test_the_qr_code_is_inline_svg():
    svg = vouchers.qr_svg("SBX-0000")

    assert svg.startswith("<svg")
    assert "<script" not in svg


@pytest.mark.parametrize(
    ("amount", "currency", "language", "shown"),
    [
        ("25", "USD", "en", "$25.00"),
        ("25", "USD", "fr", "25,00\xa0$US"),
        ("25", "JPY", "ja", "￥25"),
        ("12.5", "KWD", "en", "KWD12.500"),
    ],
)
def test_a_value_is_shown_in_the_readers_format_with_the_currencys_digits(
    amount, currency, language, shown
):
    assert vouchers.money_display(Decimal(amount), currency, language) == shown
