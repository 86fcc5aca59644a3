"""What the widget's tests share: a connected store, and the README's own Python example for
making a member token (run as a store developer would paste it)."""

import re
from pathlib import Path
from typing import Protocol

import pytest

from tests.integrations.helpers import connected_store

README = Path(__file__).resolve().parents[3] / "README.md"


class TokenMaker(Protocol):
    def __call__(self, secret: str, store_public_id: str, external_id: str) -> str: ...


def readme_token_maker() -> TokenMaker:
    """``loyalty_widget_token`` from the README's "Storefront widget" section."""
    section = README.read_text().split("## Storefront widget", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md (Storefront widget)", "exec"), namespace)
    return namespace["loyalty_widget_token"]


@pytest.fixture
def shop(merchant):
    """A Shopify store of ``merchant`` and its webhook secret."""
    return connected_store(merchant, "shopify")
