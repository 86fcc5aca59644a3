from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Store integrations"
    demo_seed = "integrations.demo.seed"

    periodic_tasks = [
        {
            "name": "Process waiting webhook deliveries",
            "task": "integrations.sweep_inbox",
            "crontab": "*/5 * * * *",
            "description": "Processes the platforms' webhook deliveries still waiting a few "
            "minutes after they arrived (their task was lost).",
        },
    ]
    staff_group_permissions = {
        "Operations": [
            "integrations.view_inboxdelivery",
            "integrations.replay_inboxdelivery",
        ],
    }
