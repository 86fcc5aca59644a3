from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"
    demo_seed = "fulfillment.demo.seed"
    supplier_adapter_schemas = "fulfillment.adapters.registry.adapter_schemas"
    staff_group_permissions = {
        "Fulfillment": [
            "fulfillment.view_redemption",
            "fulfillment.change_redemption",
            "fulfillment.view_redemptionevent",
            "fulfillment.view_supplierorder",
            "fulfillment.view_deliveredcode",
            "fulfillment.reveal_code",
            "fulfillment.view_codereveal",
            "fulfillment.view_shipment",
            "fulfillment.add_shipment",
            "fulfillment.change_shipment",
            "fulfillment.resume_supplier",
            "catalog.view_supplier",
        ],
        "Customer care": [
            "fulfillment.view_redemption",
            "fulfillment.view_redemptionevent",
            "fulfillment.view_supplierorder",
            "fulfillment.view_shipment",
        ],
        "Finance": ["fulfillment.view_redemption", "fulfillment.view_supplierorder"],
    }
    ops_cards = "fulfillment.ops_cards.CARDS"
    # The member page's Redemptions tab, and the rewards' names its Points tab shows.
    member_tabs = "fulfillment.admin.member_tab.member_tabs"
    reward_names = "fulfillment.admin.member_tab.reward_names"
    periodic_tasks = [
        {
            "name": "Process supplier orders",
            "task": "fulfillment.process_supplier_orders",
            "crontab": "* * * * *",
            "description": "Places queued orders (within each supplier's rate limit), polls "
            "submitted ones, reconciles unknown outcomes, retries with back-off, fails over "
            "and refunds.",
        },
    ]

    def ready(self) -> None:
        # The tasks are queued by name (``fulfillment.enqueue``): register them in every
        # process, the web's included, not only in the workers that autodiscover them.
        from fulfillment import tasks  # noqa: F401
