from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"
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
