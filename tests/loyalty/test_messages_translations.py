"""The member messages and their pages are written in every language the product is
(``LANGUAGES``), from the catalogs in ``loyalty/locale`` (the emails) and
``portals/locale`` (the unsubscribe and not-found pages).

The catalogs are checked as files: one per language but English, every text the emails'
wording, the email templates and the pages mark is translated (nothing empty, nothing
fuzzy, not left in English, its ``%(name)s`` fields kept), and the compiled ``.mo`` that
Django loads holds exactly what its ``.po`` says. Then each kind is rendered in each
language, with none of the English wording left in it."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

import loyalty
import portals
from loyalty.messages import content
from loyalty.models import MessageKind
from tests.fulfillment.test_translations import read_po

LOYALTY = Path(loyalty.__file__).parent
PORTALS = Path(portals.__file__).parent
MARKED = re.compile(r"""\bn?gettext\(\s*u?('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
FIELD = re.compile(r"%\(\w+\)s")
LANGUAGES = sorted({code for code, _ in settings.LANGUAGES} - {"en"})


def _template_texts(folder: Path) -> set[str]:
    texts = set()
    for template in folder.glob("*"):
        code = templatize(template.read_text(encoding="utf-8"), origin=str(template))
        texts |= {ast.literal_eval(call.group(1)) for call in MARKED.finditer(code)}
    return texts


def _python_texts(module: Path) -> set[str]:
    texts = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "gettext":
            texts.add(node.args[0].value)
    return texts


MARKED_TEXTS = {
    "loyalty": _python_texts(LOYALTY / "messages" / "content.py")
    | _template_texts(LOYALTY / "templates" / "loyalty" / "email"),
    "portals": _template_texts(PORTALS / "templates" / "portals" / "member"),
}
APPS = {"loyalty": LOYALTY, "portals": PORTALS}
CATALOGS = [
    (app, APPS[app] / "locale" / language / "LC_MESSAGES" / "django.po")
    for app in APPS
    for language in LANGUAGES
]


def test_the_texts_were_read():
    assert len(MARKED_TEXTS["loyalty"]) > 20
    assert len(MARKED_TEXTS["portals"]) > 10


@pytest.mark.parametrize(
    ("app", "po"), CATALOGS, ids=lambda value: str(value).split("/locale/")[-1][:2]
)
def test_a_catalog_translates_every_marked_text(app, po):
    assert po.exists(), f"no catalog at {po}"
    entries = read_po(po)
    headers = dict(
        line.split(": ", 1) for line in entries[0]["msgstr"][0].splitlines() if ": " in line
    )
    assert headers["Language"] == po.parents[1].name
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    by_id = {entry["msgid"]: entry for entry in entries[1:]}
    assert MARKED_TEXTS[app] - set(by_id) == set()
    for msgid in MARKED_TEXTS[app]:
        entry = by_id[msgid]
        text = entry["msgstr"][0]
        assert "fuzzy" not in entry["flags"], msgid
        assert text.strip(), msgid
        assert sorted(FIELD.findall(text)) == sorted(FIELD.findall(msgid)), msgid
        if len(msgid) > 16:  # short words ("Hallo,") may be the same in two languages
            assert text != msgid, f"{msgid!r} is left in English"


@pytest.mark.parametrize(
    ("app", "po"), CATALOGS, ids=lambda value: str(value).split("/locale/")[-1][:2]
)
def test_the_compiled_catalog_holds_exactly_what_its_po_says(app, po):
    with po.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    expected = {}
    for entry in read_po(po)[1:]:
        if entry["msgid_plural"] is None:
            expected[entry["msgid"]] = entry["msgstr"][0]
        else:  # a text with plural forms: one per form, keyed by the singular and its index
            expected.update(
                {(entry["msgid"], index): text for index, text in entry["msgstr"].items()}
            )
    catalog = {key: text for key, text in compiled._catalog.items() if key != ""}
    assert catalog == expected


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", MessageKind.values)
def test_every_kind_is_written_in_every_language(language, kind):
    data = content.sample_data(kind)
    with translation.override("en"):
        values = content.fields(
            first_name="Ana", program="Club", points_name="Beans", data=data, language="en"
        )
        english = content.builtin(kind, values, data)
    with translation.override(language):
        values = content.fields(
            first_name="Ana", program="Club", points_name="Beans", data=data, language=language
        )
        local = content.builtin(kind, values, data)

    assert local.subject != english.subject
    for paragraph in english.paragraphs:
        first_line = paragraph.splitlines()[0]
        assert first_line not in local.text, f"{first_line!r} untranslated in {language}"
