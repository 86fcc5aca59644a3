"""What a member reads of a delivered reward (the delivery email, the claim page, the PDF
voucher) is in their language, from the catalogs in ``fulfillment/locale``.

The catalogs are checked as files too: every supported language has one, every text the
member-facing templates mark is translated in each (nothing empty, nothing fuzzy), and
the compiled ``.mo`` that Django loads holds exactly what its ``.po`` says. (File times
prove nothing here: a fresh checkout writes both files at about the same moment.)
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils.translation.template import templatize

import fulfillment
from core.actors import Actor
from fulfillment import vouchers
from fulfillment.services import delivery
from tests.fulfillment.test_delivery import BASE_URL, delivered
from tests.fulfillment.test_vouchers import pdf_text

APP = Path(fulfillment.__file__).parent
LOCALE = APP / "locale"
MEMBER_TEMPLATES = APP / "templates" / "fulfillment"


# --- Rendered in the member's language ---------------------------------------------------

EXPECTED = {
    "fr": {
        "greeting": "Bonjour Ana,",
        "subject": "Votre récompense",
        "email_button": "Voir mon code",
        "link_days": "Le lien est valable 30 jours.",
        "page_button": "Afficher mon code",
        "revealed": "Télécharger le bon (PDF)",
        "direction": "ltr",
    },
    "de": {
        "greeting": "Hallo Ana,",
        "subject": "Ihre Prämie",
        "email_button": "Meinen Code ansehen",
        "link_days": "Der Link ist 30 Tage gültig.",
        "page_button": "Meinen Code anzeigen",
        "revealed": "Gutschein herunterladen (PDF)",
        "direction": "ltr",
    },
    "ja": {
        "greeting": "Ana 様",
        "subject": "の準備ができました",
        "email_button": "コードを見る",
        "link_days": "有効期間は30日間です。",
        "page_button": "コードを表示する",
        "revealed": "引換券をダウンロード（PDF）",  # noqa: RUF001 - Japanese brackets
        "direction": "ltr",
    },
    "ar": {
        "greeting": "مرحبًا Ana،",
        "subject": "مكافأتك",
        "email_button": "اعرض رمزي",
        "link_days": "يعمل الرابط لمدة 30 يومًا.",  # 11 to 99 take the singular, accusative
        "page_button": "اعرض رمزي",
        "revealed": "تنزيل القسيمة (PDF)",
        "direction": "rtl",
    },
}
ENGLISH = ("Hello", "See my code", "Show my code", "The link works", "Download the voucher")


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_the_delivery_email_is_in_the_members_language(language):
    expected = EXPECTED[language]
    redemption = delivered(locale=language)

    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )

    (message,) = mail.outbox
    text, html = message.body, message.alternatives[0][0]
    assert expected["subject"] in message.subject
    assert redemption.reward.name in message.subject
    for body in (text, html):
        assert expected["greeting"] in body
        assert expected["link_days"] in body
        assert not [word for word in ENGLISH if word in body]
    assert expected["email_button"] in html
    assert f'<html lang="{language}" dir="{expected["direction"]}">' in html


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_the_claim_page_is_in_the_members_language(client, language):
    expected = EXPECTED[language]
    redemption = delivered(locale=language)
    url = f"/claim/{delivery.claim_token(redemption)}/"

    opened = client.get(url).content.decode()
    shown = client.post(url).content.decode()

    assert expected["page_button"] in opened
    assert expected["revealed"] in shown
    for html in (opened, shown):
        assert f'<html lang="{language}" dir="{expected["direction"]}">' in html
        assert not [word for word in ENGLISH if word in html]


@pytest.mark.django_db
def test_the_waiting_page_is_in_the_members_language(client):
    redemption = delivered(locale="ja", deliver=False)

    page = client.get(f"/claim/{delivery.claim_token(redemption)}/").content.decode()

    assert "特典をお届けする準備をしています。" in page
    assert "on its way" not in page


@pytest.mark.django_db
def test_the_pdf_voucher_is_in_the_members_language():
    redemption = delivered(locale="de", terms="Nur in US-Filialen einlösbar.")

    text = pdf_text(vouchers.voucher_pdf(redemption))

    assert "GÜLTIG BIS" in text  # the label, upper-cased by the voucher's style
    assert "Bedingungen" in text
    assert "Eine Prämie von" in text
    assert "Terms and conditions" not in text


@pytest.mark.parametrize(
    ("accept", "title"),
    [
        ("de-DE,de;q=0.9", "Wir konnten diese Prämie nicht finden"),
        ("ar", "لم نتمكن من العثور على هذه المكافأة"),
        ("xx", "We could not find this reward"),
    ],
)
def test_a_bad_link_answers_in_the_browsers_language(client, accept, title):
    response = client.get("/claim/nonsense/", HTTP_ACCEPT_LANGUAGE=accept)

    assert response.status_code == 404
    assert title in response.content.decode()


def test_an_english_reader_gets_the_english_texts():
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("en"):
        html = render_to_string("fulfillment/claim/invalid.html", {"expired": True})

    assert "This link has expired" in html


# --- The catalog files -------------------------------------------------------------------


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file, each ``{"msgid", "msgid_plural", "msgstr": {n: text},
    "flags"}``, the header (empty msgid) included. Python's standard library has no .po
    reader; this one reads what xgettext and msgmerge write."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry, key = None, None
            continue
        if entry is None:
            entry = {"msgid": "", "msgid_plural": None, "msgstr": {}, "flags": set()}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        match = re.fullmatch(r'(msgctxt|msgid|msgid_plural|msgstr)(?:\[(\d+)\])? (".*")', line)
        if match:
            name, index, text = match.groups()
            key = (name, int(index or 0))
        else:
            text = line
        value = ast.literal_eval(text)
        name, index = key
        if name == "msgstr":
            entry["msgstr"][index] = entry["msgstr"].get(index, "") + value
        elif name == "msgid_plural":
            entry["msgid_plural"] = (entry["msgid_plural"] or "") + value
        elif name == "msgid":
            entry["msgid"] += value
    return entries


# templatize writes each marked text as a gettext('...') or ngettext('...', ...) call.
MARKED = re.compile(r"""\bn?gettext\(\s*u?('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def marked_texts() -> set[str]:
    """Every text the member-facing templates mark for translation, as msgids."""
    texts = set()
    for template in MEMBER_TEMPLATES.rglob("*"):
        if not template.is_file():
            continue
        code = templatize(template.read_text(encoding="utf-8"), origin=str(template))
        for call in MARKED.finditer(code):
            texts.add(ast.literal_eval(call.group(1)))
    return texts


CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))


def test_every_supported_language_but_english_has_a_catalog():
    languages = {path.parents[1].name for path in CATALOGS}

    assert languages == {code for code, _ in settings.LANGUAGES} - {"en"}
    assert len(marked_texts()) > 25  # the templates were read


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parents[1].name)
def test_a_catalog_translates_every_marked_text_and_nothing_is_fuzzy(po):
    entries = read_po(po)
    header = entries[0]
    assert header["msgid"] == ""
    headers = dict(line.split(": ", 1) for line in header["msgstr"][0].splitlines() if ": " in line)
    assert headers["Language"] == po.parents[1].name
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    nplurals = int(re.search(r"nplurals=(\d+)", headers["Plural-Forms"]).group(1))

    fuzzy = [entry["msgid"] for entry in entries if "fuzzy" in entry["flags"]]
    assert fuzzy == []
    untranslated = [
        entry["msgid"]
        for entry in entries[1:]
        if not entry["msgstr"] or not all(text.strip() for text in entry["msgstr"].values())
    ]
    assert untranslated == []
    for entry in entries[1:]:
        if entry["msgid_plural"] is not None:
            assert sorted(entry["msgstr"]) == list(range(nplurals)), entry["msgid"]
    missing = marked_texts() - {entry["msgid"] for entry in entries}
    assert missing == set(), "run makemessages in fulfillment/ and translate"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parents[1].name)
def test_the_compiled_catalog_holds_exactly_what_its_po_says(po):
    mo = po.with_suffix(".mo")
    assert mo.exists(), "run compilemessages in fulfillment/"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    expected = {}
    for entry in read_po(po)[1:]:
        if entry["msgid_plural"] is None:
            expected[entry["msgid"]] = entry["msgstr"][0]
        else:
            for index, text in entry["msgstr"].items():
                expected[(entry["msgid"], index)] = text
    catalog = {key: text for key, text in compiled._catalog.items() if key != ""}

    assert catalog == expected, "the .mo is stale: run compilemessages in fulfillment/"
