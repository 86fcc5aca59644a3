"""The widget's words, translated on the server (Django's catalogs) and handed to the script
in its configuration. ``{name}`` marks what the script fills in (numbers formatted for the
reader's locale, the program's and tiers' names); the script writes them as text, never as
markup."""

from django.utils.translation import gettext as _


def widget_texts() -> dict[str, str]:
    """The texts in the active language."""
    return {
        "greeting": _("Hi {name}"),
        "balance_label": _("{points_name} to spend"),
        "pending": _("{points} {points_name} pending"),
        "tier_label": _("Tier"),
        "progress_label": _("Progress to {tier}"),
        "progress_points": _("{amount} more {points_name} to reach {tier}"),
        "progress_spend": _("Spend {amount} more to reach {tier}"),
        "top_tier": _("You are in our top tier."),
        "rewards_heading": _("Rewards you can get now"),
        "reward_price": _("{points} {points_name}"),
        "reward_from": _("from {points} {points_name}"),
        "next_reward_heading": _("Your next reward"),
        "next_reward": _("{points} more {points_name} to go"),
        "more_rewards": _("and {count} more in your account"),
        "portal_link": _("Open your rewards account"),
        "join_heading": _("Join {program}"),
        "join_text": _("Earn {points_name} on every order and spend them on rewards."),
        "join_link": _("Join now"),
        "on_hold_text": _("Your rewards account is on hold. Our care team can tell you more."),
        "unavailable_text": _("See your {points_name} and rewards in your account."),
    }
