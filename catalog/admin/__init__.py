"""Admin for the Catalog team: brands, categories, suppliers, rewards with their offers,
code pools, alerts, and each merchant's catalog with its point prices.

Every write goes through ``catalog.services`` (``reward_save``, ``rewards_set_status``,
``supplier_save``, ``catalog_item_save``, ``catalog_items_add``): the forms check their
input with the services' own validators, so a refused value is a form error, never a
500. Rewards are never deleted (retire them); codes of a pool are never shown, nor a
supplier's secrets."""

from catalog.admin import operations, products, selection, suppliers

__all__ = ["operations", "products", "selection", "suppliers"]
