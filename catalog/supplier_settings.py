"""Supplier adapter settings: what each adapter takes, checked against a schema.

Each adapter declares a ``SettingsSchema`` (``fulfillment.adapters``: the schemas reach
this app through the ``supplier_adapter_schemas`` hook, as dependencies point one way).
A schema lists its settings, each with a kind (text, secret, URL, integer, number),
whether it is required, its bounds and help text, and two flags that decide who may
change it:

- ``secret``: a credential. It is stored encrypted with the rest of the settings and is
  write-only: never shown again, only ``masked`` (its last 4 characters when it is long
  enough that they give nothing away); a blank value on save keeps the current one.
- ``routes_secrets``: where the credentials are sent (a base URL). Changing it sends
  them elsewhere, so it needs the same permission as changing them.

The same ``clean`` checks settings when staff save them and when an adapter is built
from them, so a supplier can only hold settings its adapter runs with. Messages name the
setting and the rule, never the value (a secret must not end up in a form error, a log
line or a supplier order's last error).
"""

import ipaddress
import json
import math
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from catalog.exceptions import InvalidSupplierSettings
from core.hooks import app_hooks

MASK = "••••"
# A secret shorter than this is masked whole: its last 4 characters would give away too
# much of it.
SHOW_TAIL_FROM = 12
LOOPBACK_NAMES = frozenset({"localhost"})


class SettingKind(StrEnum):
    TEXT = "text"
    SECRET = "secret"
    URL = "url"  # https (http only to this host's loopback), no credentials, query or fragment
    INTEGER = "integer"
    NUMBER = "number"


@dataclass(frozen=True, kw_only=True)
class Setting:
    name: str
    kind: SettingKind
    label: str = ""
    required: bool = False
    help_text: str = ""
    min_value: float | None = None
    max_value: float | None = None
    max_length: int = 500
    routes_secrets: bool = False

    @property
    def secret(self) -> bool:
        return self.kind == SettingKind.SECRET

    @property
    def protected(self) -> bool:
        """Changing it needs the permission to change credentials."""
        return self.secret or self.routes_secrets

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")


# Cross-setting rules: the cleaned values in, {setting name: message} out.
SettingsCheck = Callable[[dict[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class SettingsSchema:
    settings: tuple[Setting, ...] = ()
    check: SettingsCheck | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        names = [setting.name for setting in self.settings]
        if len(set(names)) != len(names):
            raise ValueError(f"settings named twice in {names}")

    @property
    def names(self) -> list[str]:
        return [setting.name for setting in self.settings]

    def get(self, name: str) -> Setting | None:
        return next((setting for setting in self.settings if setting.name == name), None)

    @property
    def secrets(self) -> list[Setting]:
        return [setting for setting in self.settings if setting.secret]

    def clean(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The settings as stored: each value parsed to its kind, empty ones left out.
        Raises ``InvalidSupplierSettings`` naming every setting at fault."""
        errors: dict[str, str] = {}
        takes = ", ".join(self.names) or "no settings"
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            errors.update({name: f"unknown setting; the adapter takes {takes}" for name in unknown})
        cleaned: dict[str, Any] = {}
        for setting in self.settings:
            raw = values.get(setting.name)
            if _empty(raw):
                if setting.required:
                    errors[setting.name] = "required"
                continue
            try:
                cleaned[setting.name] = _parse(setting, raw)
            except ValueError as error:
                errors[setting.name] = str(error)
        if not errors and self.check is not None:
            errors.update(self.check(cleaned))
        if errors:
            name, message = next(iter(errors.items()))
            detail = (
                f"unknown setting(s) {', '.join(unknown)}; the adapter takes {takes}"
                if unknown
                else f"{name}: {message}"
            )
            raise InvalidSupplierSettings(detail, field=name, field_errors=dict(errors))
        return cleaned

    def shown(self, values: Mapping[str, Any]) -> dict[str, str]:
        """What staff may see of stored settings: secrets masked, the rest as they are."""
        return {
            setting.name: mask(str(values[setting.name]))
            if setting.secret
            else str(values[setting.name])
            for setting in self.settings
            if setting.name in values
        }


def mask(secret: str) -> str:
    """``••••`` and, for a secret long enough, its last 4 characters."""
    if len(secret) >= SHOW_TAIL_FROM:
        return f"{MASK}{secret[-4:]}"
    return MASK


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse(setting: Setting, raw: Any) -> Any:
    kind = setting.kind
    if kind in (SettingKind.TEXT, SettingKind.SECRET, SettingKind.URL):
        if not isinstance(raw, str):
            raise ValueError("a text")
        value = raw.strip()
        if len(value) > setting.max_length:
            raise ValueError(f"at most {setting.max_length} characters")
        if kind == SettingKind.URL:
            _check_url(value)
        return value
    value = _integer(raw) if kind == SettingKind.INTEGER else _number(raw)
    if setting.min_value is not None and value < setting.min_value:
        raise ValueError(f"at least {_plain(setting.min_value)}")
    if setting.max_value is not None and value > setting.max_value:
        raise ValueError(f"at most {_plain(setting.max_value)}")
    return value


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise ValueError("a whole number")


def _number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError("a number")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("a number") from None
    if not math.isfinite(value):
        raise ValueError("a number")
    return int(value) if isinstance(raw, int) else value


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _check_url(value: str) -> None:
    try:
        parts = urllib.parse.urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("an https:// URL")
    if parts.scheme == "http" and not _loopback(host):
        raise ValueError("an https:// URL (http only to this machine's own address)")
    if parts.username or parts.password:
        raise ValueError("no user or password in the URL; credentials go in their own setting")
    if parts.query or parts.fragment:
        raise ValueError("no query string or fragment")


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the adapters' schemas and a supplier's stored settings ---------------------------------


def adapter_schemas() -> dict[str, SettingsSchema]:
    """Every adapter's schema by adapter name, as the apps that have adapters declare
    them (``supplier_adapter_schemas`` on their AppConfig)."""
    found: dict[str, SettingsSchema] = {}
    for hook in app_hooks("supplier_adapter_schemas"):
        found.update(hook())
    return found


def schema_for(adapter: str) -> SettingsSchema:
    schemas = adapter_schemas()
    try:
        return schemas[adapter]
    except KeyError:
        raise InvalidSupplierSettings(
            f"No adapter is named {adapter!r}; the adapters are {', '.join(schemas)}.",
            field="adapter",
        ) from None


def stored_settings(adapter_config: str) -> dict[str, Any]:
    """The settings a supplier stores (its ``adapter_config``, decrypted by the field)."""
    if not adapter_config:
        return {}
    try:
        values = json.loads(adapter_config)
    except ValueError:
        raise InvalidSupplierSettings(
            "The stored settings are not JSON.", field="adapter"
        ) from None
    if not isinstance(values, dict):
        raise InvalidSupplierSettings("The stored settings are not a JSON object.", field="adapter")
    return values


def settings_json(values: Mapping[str, Any]) -> str:
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":")) if values else ""
