from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty programs"
    demo_seed = "loyalty.demo.seed"
    # The invoicing calls it for each merchant and period (``core.hooks.app_hooks``).
    billing_usage_collectors = "loyalty.reports.billing.active_members_usage_post"

    staff_group_permissions = {
        "Operations": [
            f"loyalty.{action}_{model}"
            for model in ("program", "tier", "earningrule", "member", "memberattribute")
            for action in ("add", "change", "view")
        ]
        + ["loyalty.delete_memberattribute"]
        + [
            "loyalty.adjust_points",
            "loyalty.anonymise_member",
            "loyalty.export_member",
            "loyalty.view_ledgerentry",
            "loyalty.view_order",
            "loyalty.view_refund",
            "loyalty.view_activity",
            "loyalty.view_exchangerate",
            "loyalty.view_segment",
            "loyalty.refresh_segment",
            "loyalty.export_segment",
            "loyalty.view_campaign",
            "loyalty.transition_campaign",
            "loyalty.export_campaign",
            "loyalty.simulate_order",
        ],
        "Marketing": [
            f"loyalty.{action}_{model}"
            for model in ("segment", "campaign")
            for action in ("add", "change", "view", "delete")
        ]
        + [
            "loyalty.transition_campaign",
            "loyalty.export_campaign",
            "loyalty.simulate_order",
            "loyalty.refresh_segment",
            "loyalty.export_segment",
            "loyalty.view_member",
            "loyalty.view_memberattribute",
            "loyalty.view_program",
            "loyalty.view_tier",
            "loyalty.view_earningrule",
            "loyalty.view_order",
            "loyalty.view_activity",
        ],
        "Catalog": [
            "loyalty.add_exchangerate",
            "loyalty.change_exchangerate",
            "loyalty.view_exchangerate",
        ],
        # Agents edit a member's profile on request; they credit points only as goodwill
        # on a ticket (customercare), never through the member list.
        "Customer care": [
            "loyalty.view_member",
            "loyalty.change_member",
            "loyalty.view_ledgerentry",
            "loyalty.view_order",
            "loyalty.view_refund",
            "loyalty.view_activity",
        ],
        # Senior agents erase a member's personal data on a verified request.
        "Care leads": ["loyalty.anonymise_member"],
        "Finance": [
            "loyalty.view_program",
            "loyalty.view_member",
            "loyalty.view_ledgerentry",
            "loyalty.view_order",
            "loyalty.view_exchangerate",
        ],
    }
    periodic_tasks = [
        {
            "name": "Release pending points",
            "task": "loyalty.release_pending_points",
            "crontab": "*/15 * * * *",
            "description": "Makes points spendable once their order's return window passed.",
        },
        {
            "name": "Expire points",
            "task": "loyalty.expire_points",
            "crontab": "30 2 * * *",
            "description": "Expires lots past their date and points of inactive members.",
        },
        {
            "name": "Announce expiring points",
            "task": "loyalty.announce_expiring_points",
            "crontab": "15 2 * * *",
            "description": "A points.expiring webhook event for each lot that expires within "
            "LOYALTY_EXPIRY_WARNING_DAYS, once per lot.",
        },
        {
            "name": "Recompute tiers",
            "task": "loyalty.recompute_tiers",
            "crontab": "0 4 * * *",
            "description": "Moves members to the tier their rolling window gives.",
        },
        {
            "name": "Update report aggregates",
            "task": "loyalty.report_aggregates_update",
            "crontab": "* * * * *",
            "description": "Brings the reports' daily figures up to date with the ledger, "
            "orders and members written since the last run.",
        },
        {
            "name": "Reconcile report aggregates",
            "task": "loyalty.report_aggregates_reconcile",
            "crontab": "45 3 * * *",
            "description": "Recomputes every merchant's last two days of report figures.",
        },
        {
            "name": "Refresh segments",
            "task": "loyalty.refresh_segments",
            "crontab": "*/15 * * * *",
            "description": "Moves the members something happened to since the last refresh "
            "in or out of each active segment.",
        },
        {
            "name": "Refresh segments in full",
            "task": "loyalty.refresh_segments_full",
            "crontab": "30 4 * * *",
            "description": "Scores members (RFM), then recomputes every active segment for "
            "every member, after the night's tier changes.",
        },
        {
            "name": "Start and end campaigns",
            "task": "loyalty.advance_campaigns",
            "crontab": "* * * * *",
            "description": "Runs scheduled campaigns whose start came and ends those whose "
            "end passed.",
        },
    ]
