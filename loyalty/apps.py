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
            "loyalty.add_messagetemplate",
            "loyalty.change_messagetemplate",
            "loyalty.view_messagetemplate",
            "loyalty.delete_messagetemplate",
            "loyalty.view_membermessage",
            "loyalty.view_achievement",
            "loyalty.view_achievementcompletion",
            # Referrals: the terms on each program, and the review of flagged ones.
            "loyalty.view_referral",
            "loyalty.review_referral",
            "loyalty.add_referralterms",
            "loyalty.change_referralterms",
            "loyalty.view_referralterms",
        ],
        "Marketing": [
            f"loyalty.{action}_{model}"
            for model in ("segment", "campaign")
            for action in ("add", "change", "view", "delete")
        ]
        + [f"loyalty.{action}_achievement" for action in ("add", "change", "view")]
        + [
            "loyalty.view_achievementcompletion",
            "loyalty.add_messagetemplate",
            "loyalty.change_messagetemplate",
            "loyalty.view_messagetemplate",
            "loyalty.delete_messagetemplate",
            "loyalty.view_membermessage",
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
            "loyalty.view_referral",
            "loyalty.view_referralterms",
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
            "loyalty.view_membermessage",
            # "Where are my referral points?": the referral, its status and why.
            "loyalty.view_referral",
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
    ops_cards = "loyalty.ops_cards.CARDS"
    periodic_tasks = [
        {
            "name": "Qualify referrals",
            "task": "loyalty.qualify_referrals",
            "crontab": "20 * * * *",
            "description": "Finds referred friends' first orders, rewards both sides once the "
            "pending period passed without a refund, and voids referrals whose first order "
            "was refunded.",
        },
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
            "name": "Close achievement periods",
            "task": "loyalty.close_achievement_periods",
            "crontab": "45 1 * * *",
            "description": "Records each achievement streak that broke, so it starts again "
            "from zero, and drops what fell out of a rolling window.",
        },
        {
            "name": "Announce expiring points",
            "task": "loyalty.announce_expiring_points",
            "crontab": "15 2 * * *",
            "description": "A points.expiring webhook event for each lot that expires within "
            "LOYALTY_EXPIRY_WARNING_DAYS, once per lot.",
        },
        {
            "name": "Send expiry warnings",
            "task": "loyalty.send_expiry_warnings",
            "crontab": "0 9 * * *",
            "description": "Emails members whose points expire within a threshold of "
            "LOYALTY_EXPIRY_EMAIL_DAYS, once per expiry day and threshold.",
        },
        {
            "name": "Send member messages",
            "task": "loyalty.send_member_messages",
            "crontab": "*/5 * * * *",
            "description": "Sends the welcome, tier, achievement and referral emails of the "
            "last 7 days that were not sent yet.",
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
