from django.apps import AppConfig

_EDITED = ("brand", "category", "reward", "supplier", "supplieroffer", "codepool")


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Rewards catalog"
    demo_seed = "catalog.demo.seed"
    on_program_saved = "catalog.tasks.program_saved"
    on_rates_changed = "catalog.tasks.rates_changed"

    staff_group_permissions = {
        "Catalog": [
            f"catalog.{action}_{model}" for model in _EDITED for action in ("add", "change", "view")
        ]
        + [
            "catalog.view_vouchercode",
            "catalog.add_vouchercode",
            "catalog.view_catalogalert",
            "catalog.change_catalogalert",
            "catalog.add_merchantcatalogitem",
            "catalog.change_merchantcatalogitem",
            "catalog.view_merchantcatalogitem",
        ],
        # Supplier credentials (secrets, and where they are sent: the adapter, its base
        # URL) are kept by Operations alone; Catalog and Fulfillment edit the rest.
        "Operations": [
            "catalog.view_supplier",
            "catalog.add_supplier",
            "catalog.change_supplier",
            "catalog.change_supplier_credentials",
            "catalog.view_reward",
            "catalog.view_brand",
            "catalog.view_merchantcatalogitem",
            "catalog.add_merchantcatalogitem",
            "catalog.change_merchantcatalogitem",
            "catalog.view_catalogalert",
        ],
        "Customer care": ["catalog.view_reward", "catalog.view_brand"],
        "Finance": [
            "catalog.view_reward",
            "catalog.view_supplier",
            "catalog.view_supplieroffer",
            "catalog.view_merchantcatalogitem",
        ],
    }
    ops_cards = "catalog.ops_cards.CARDS"
    periodic_tasks = [
        {
            "name": "Refresh exchange rates",
            "task": "catalog.refresh_exchange_rates",
            "crontab": "5 * * * *",
            "description": "Imports rate files from the drop folder, reprices what they "
            "change and alerts on rates older than EXCHANGE_RATE_MAX_AGE_HOURS.",
        },
        {
            "name": "Reprice catalog items",
            "task": "catalog.reprice_items",
            "crontab": "*/30 * * * *",
            "description": "Recomputes merchants' point prices (rates, face values, point "
            "values); keeps the previous prices in history.",
        },
        {
            "name": "Check code pools",
            "task": "catalog.check_code_pools",
            "crontab": "*/20 * * * *",
            "description": "Alerts the Catalog team when a code pool runs low.",
        },
    ]
