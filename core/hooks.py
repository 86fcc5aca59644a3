"""Hooks that later apps declare on their AppConfig, by name, for earlier apps to call
(dependencies point one way: an app never imports the apps that build on it).

An AppConfig declares ``<name> = "dotted.path.to.callable"``; ``app_hooks(name)`` returns
those callables in INSTALLED_APPS order."""

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.utils.module_loading import import_string


def app_hooks(name: str) -> list[Callable[..., Any]]:
    return [
        import_string(path)
        for app_config in apps.get_app_configs()
        if (path := getattr(app_config, name, None))
    ]
