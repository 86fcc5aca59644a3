"""Adapter names, as stored in ``Supplier.adapter``, and the classes they stand for.

Classes are imported on first use, so importing this module needs no Django setup."""

from collections.abc import Mapping
from typing import Any

from django.utils.module_loading import import_string

from catalog.supplier_settings import SettingsSchema
from fulfillment.adapters.base import SupplierAdapter, UnknownAdapter

ADAPTERS: Mapping[str, str] = {
    "manual": "fulfillment.adapters.manual.ManualAdapter",
    "code_pool": "fulfillment.adapters.code_pool.CodePoolAdapter",
    "sandbox": "fulfillment.adapters.sandbox.SandboxAdapter",
    "http_json": "fulfillment.adapters.http_json.HttpJsonAdapter",
}


def adapter_class(name: str) -> type[SupplierAdapter]:
    try:
        path = ADAPTERS[name]
    except KeyError:
        raise UnknownAdapter(
            f"No supplier adapter is named {name!r}; the adapters are {', '.join(ADAPTERS)}."
        ) from None
    return import_string(path)


def adapter_for(name: str, config: Mapping[str, Any] | None = None) -> SupplierAdapter:
    """The adapter called ``name``, set up with one supplier's settings. Raises
    ``UnknownAdapter`` for a name no adapter has, ``AdapterConfigError`` for bad settings."""
    return adapter_class(name)(config or {})


def adapter_schemas() -> dict[str, SettingsSchema]:
    """Each adapter's settings schema, by name (the ``supplier_adapter_schemas`` hook the
    catalog's supplier pages and services read)."""
    return {name: adapter_class(name).settings_schema for name in ADAPTERS}
