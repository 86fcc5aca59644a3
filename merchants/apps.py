from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Merchants"

    # Each app may declare the permissions its models give the provider's staff groups
    # (``staff_group_permissions``) and its scheduled jobs (``periodic_tasks``); the sync
    # functions in core.staff_groups and core.schedules read them from every app.
    merchant_id_by_slug = "merchants.selectors.merchant_id_by_slug"
    staff_group_permissions = {
        "Operations": [
            "merchants.add_merchant",
            "merchants.change_merchant",
            "merchants.view_merchant",
            "merchants.transition_merchant",
            "merchants.view_merchantevent",
            "merchants.view_onboardingchecklistitem",
            "merchants.change_onboardingchecklistitem",
            "merchants.add_store",
            "merchants.change_store",
            "merchants.view_store",
            "merchants.set_webhook_secret",
            "merchants.add_merchantapikey",
            "merchants.change_merchantapikey",
            "merchants.view_merchantapikey",
            "merchants.add_merchantmembership",
            "merchants.change_merchantmembership",
            "merchants.delete_merchantmembership",
            "merchants.view_merchantmembership",
            "merchants.reset_second_factor",
            "merchants.view_portal_as_merchant",
            "merchants.add_merchantbrand",
            "merchants.change_merchantbrand",
            "merchants.view_merchantbrand",
            "merchants.add_feeplan",
            "merchants.view_feeplan",
            "merchants.add_billingprofile",
            "merchants.change_billingprofile",
            "merchants.view_billingprofile",
            "merchants.view_webhookendpoint",
            "merchants.change_webhookendpoint",
            "merchants.replay_webhookdelivery",
            "merchants.view_webhookdelivery",
            "merchants.view_webhookattempt",
            "django_celery_beat.view_periodictask",
            "django_celery_beat.change_periodictask",
            # Admin sign-in lockouts: see them, and unlock by deleting the attempt row.
            "axes.view_accessattempt",
            "axes.delete_accessattempt",
            "axes.view_accessfailurelog",
            "axes.view_accesslog",
        ],
        "Catalog": ["merchants.view_merchant"],
        "Fulfillment": ["merchants.view_merchant"],
        # Viewing a merchant's portal as the merchant (read-only, audited): Operations
        # answer merchants' questions about their figures and set their portal up; care
        # agents see what a merchant's staff see when a ticket is about the portal.
        "Customer care": [
            "merchants.view_merchant",
            "merchants.view_store",
            "merchants.view_portal_as_merchant",
        ],
        "Finance": [
            "merchants.view_merchant",
            "merchants.view_merchantevent",
            "merchants.add_feeplan",
            "merchants.view_feeplan",
            "merchants.view_usagerecord",
            "merchants.view_invoice",
            "merchants.issue_invoice",
            "merchants.record_invoice_payment",
            "merchants.void_invoice",
            "merchants.credit_invoice",
            "merchants.view_invoiceevent",
            "merchants.add_billingprofile",
            "merchants.change_billingprofile",
            "merchants.view_billingprofile",
        ],
    }
    ops_cards = "merchants.ops_cards.CARDS"
    periodic_tasks = [
        {
            "name": "Worker heartbeat",
            "task": "merchants.record_worker_heartbeat",
            "interval_seconds": 60,
            "description": "Lets /healthz report whether a worker and beat are running.",
        },
        {
            "name": "Purge expired Idempotency-Key records",
            "task": "merchants.purge_idempotency_records",
            "crontab": "17 3 * * *",
            "description": "Deletes stored API responses past IDEMPOTENCY_KEY_TTL_HOURS.",
        },
        {
            "name": "Monthly program reports",
            "task": "merchants.produce_monthly_reports",
            "crontab": "40 * 1 * *",
            "description": "Last month's PDF report for every live merchant, and an email to "
            "its owners; hourly on the 1st, so each merchant's month has ended in its own "
            "time zone (a report already made is skipped).",
        },
        {
            "name": "Deliver webhooks",
            "task": "merchants.dispatch_webhooks",
            "interval_seconds": 60,
            "description": "Turns new outbox events into deliveries to the merchants' "
            "webhook endpoints and sends those that are due (retries included).",
        },
        {
            "name": "Purge old webhook events",
            "task": "merchants.purge_outbox",
            "crontab": "27 3 * * *",
            "description": "Deletes outbox events older than WEBHOOK_EVENT_RETENTION_DAYS "
            "with their deliveries and attempts (not those still being retried).",
        },
        {
            "name": "Draft last month's invoices",
            "task": "merchants.draft_invoices",
            "crontab": "30 2 1 * *",
            "description": "Drafts every live merchant's invoice for the month just ended "
            "from its fee plan and usage; Finance reviews and issues them.",
        },
    ]
