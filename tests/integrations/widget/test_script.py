"""GET /widget/v1/{store}.js: the script a store puts on its pages, configured for that store
as data, public and cached, small, and clean of markup built from data."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from integrations.widget.colours import contrast_on_white
from integrations.widget.views import CODE
from merchants.models import MerchantBrand, MerchantStatus
from tests.integrations.helpers import connected_store
from tests.loyalty.factories import program_merchant

MAX_BYTES = 15 * 1024
CONFIG = re.compile(r"\}\)\((\{.*\})\);\s*$", re.S)


def script_get(store, client=None, **headers):
    return (client or Client()).get(f"/widget/v1/{store.public_id}.js", **headers)


def config_of(response) -> dict:
    return json.loads(CONFIG.search(response.content.decode()).group(1))


def test_the_script_is_javascript_public_and_cached_with_an_etag(merchant, shop):
    store, _ = shop
    response = script_get(store)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Set-Cookie" not in response
    etag = response["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = script_get(store, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "public, max-age=300"
    assert again.content == b""


def test_the_script_stays_under_15_kb(merchant, shop):
    store, _ = shop
    MerchantBrand.objects.create(merchant=merchant, colour="#0f766e")
    size = len(script_get(store).content)
    assert size < MAX_BYTES, f"{size} bytes"


def test_the_store_is_configured_as_data(merchant, shop):
    store, _ = shop
    MerchantBrand.objects.create(merchant=merchant, colour="#f5d90a")  # a pale yellow
    program = merchant.programs.get(is_active=True)
    config = config_of(script_get(store))
    assert config["store"] == str(store.public_id)
    assert config["endpoint"] == f"http://testserver/widget/v1/{store.public_id}/member.json"
    assert config["portal"] == f"http://testserver/m/{merchant.slug}/"
    assert (config["program"], config["points_name"], config["currency"]) == (
        program.name,
        "Stars",
        "USD",
    )
    # The brand colour, darkened until it reads on white and white reads on it.
    colours = config["colours"]
    assert colours["brand"] != "#f5d90a"
    assert contrast_on_white(colours["brand"]) >= 4.5
    assert colours["brand_text"] == "#ffffff"
    assert config["texts"]["join_heading"] == "Join {program}"


def test_the_default_blue_without_a_brand_and_another_language_on_request(merchant, shop):
    store, _ = shop
    assert config_of(script_get(store))["colours"]["brand"] == "#1d4ed8"
    response = Client().get(f"/widget/v1/{store.public_id}.js", {"lang": "fr-CA"})
    assert config_of(response)["language"] == "fr"
    response = Client().get(f"/widget/v1/{store.public_id}.js", {"lang": "xx"})
    assert config_of(response)["language"] == "en"


def test_names_cannot_break_out_of_the_script(merchant, shop):
    store, _ = shop
    program = merchant.programs.get(is_active=True)
    program.name = "</script><script>alert(1)</script> & Co"
    program.save(update_fields=["name"])
    body = script_get(store).content.decode()
    assert "</script>" not in body
    assert "<script>" not in body
    assert config_of(script_get(store))["program"] == program.name


def test_the_code_never_writes_markup_from_data():
    code = CODE.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink
    assert 'setAttribute("style"' not in code
    assert "textContent" in code
    assert "attachShadow" in code
    assert "prefers-reduced-motion" in code


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to parse the script")
def test_the_served_script_parses(merchant, shop, tmp_path: Path):
    store, _ = shop
    path = tmp_path / "widget.js"
    path.write_bytes(script_get(store).content)
    result = subprocess.run(
        ["node", "--check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_an_unknown_or_closed_store_has_no_script(merchant, shop):
    store, _ = shop
    assert Client().get("/widget/v1/00000000-0000-0000-0000-000000000000.js").status_code == 404
    assert Client().get("/widget/v1/not-a-uuid.js").status_code == 404
    merchant.status = MerchantStatus.OFFBOARDED
    merchant.save(update_fields=["status"])
    assert script_get(store).status_code == 404


def test_a_merchant_without_a_program_has_no_script(db):
    merchant, program = program_merchant()
    store, _ = connected_store(merchant, "custom")
    program.is_active = False
    program.save(update_fields=["is_active"])
    merchant.refresh_from_db()
    assert script_get(store).status_code == 404
