"""What each report figure is called and how it is counted, in words a merchant reads:
the portal shows them beside the figures and the CSV downloads carry them."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Definition:
    label: str | Promise
    how: str | Promise


definitions: dict[str, Definition] = {
    "as_of": Definition(
        _("Figures as of"),
        _(
            "Reports are kept up to date every minute or two; anything recorded after this "
            "time shows up at the next update."
        ),
    ),
    "members_total": Definition(
        _("Members"),
        _(
            "Everyone who had joined the program by the end of the period, including members "
            "whose personal data was erased."
        ),
    ),
    "members_new": Definition(
        _("New members"), _("Members who joined during the period (by your time zone).")
    ),
    "members_active": Definition(
        _("Active members"),
        _(
            "Members who earned points, spent points or placed an order during the period. "
            "Each member counts once."
        ),
    ),
    "members_by_tier": Definition(
        _("Members by tier"),
        _(
            "How many members were in each tier at the end of the period. New members start "
            "without a tier."
        ),
    ),
    "tier_moves_up": Definition(_("Tier upgrades"), _("Moves to a higher tier during the period.")),
    "tier_moves_down": Definition(
        _("Tier downgrades"),
        _(
            "Moves to a lower tier (or out of every tier) during the period, at the scheduled "
            "recalculation."
        ),
    ),
    "points_issued": Definition(
        _("Points issued"),
        _(
            "Points members earned from orders, activities and other rules during the period, "
            "including points still waiting for the return window."
        ),
    ),
    "points_released": Definition(
        _("Points released"),
        _(
            "Pending points that became spendable during the period because the order's "
            "return window passed."
        ),
    ),
    "points_redeemed": Definition(
        _("Points redeemed"),
        _(
            "Points spent on rewards during the period, less the points given back when a "
            "reward could not be delivered."
        ),
    ),
    "points_given_back": Definition(
        _("Points given back"),
        _(
            "Points returned to members during the period because their reward could not be "
            "delivered."
        ),
    ),
    "points_expired": Definition(
        _("Points expired"),
        _("Points that expired during the period under your program's expiry rule."),
    ),
    "points_adjusted_staff": Definition(
        _("Staff adjustments"),
        _(
            "Points added (or taken, when negative) by hand by staff or through the API "
            "during the period."
        ),
    ),
    "points_adjusted_goodwill": Definition(
        _("Goodwill points"),
        _("Points given to members by customer care on a ticket during the period."),
    ),
    "points_reversed": Definition(
        _("Points reversed by refunds"),
        _("Points taken back during the period because the order that earned them was refunded."),
    ),
    "points_pending": Definition(
        _("Pending points"),
        _(
            "Points earned but still waiting for their order's return window at the end of "
            "the period."
        ),
    ),
    "points_spendable": Definition(
        _("Spendable points"), _("Points members could spend at the end of the period.")
    ),
    "liability_points": Definition(
        _("Outstanding points"),
        _(
            "Spendable plus pending points at the end of the period: what members could still "
            "claim."
        ),
    ),
    "liability_money": Definition(
        _("Outstanding liability"),
        _("The outstanding points valued at your program's point value."),
    ),
    "redemption_rate": Definition(
        _("Redemption rate"),
        _("Points redeemed during the period divided by the points issued during it."),
    ),
    "breakage": Definition(
        _("Breakage"),
        _(
            "For the points issued in a month: the share that expired unused. A young month "
            "may still see points expire, so its breakage can still grow."
        ),
    ),
    "deferred_revenue": Definition(
        _("Deferred revenue (estimate)"),
        _(
            "The outstanding liability less the share expected never to be redeemed, "
            "estimated from the breakage of months whose points can no longer expire "
            "(IFRS 15 / ASC 606). An estimate for your accountant, not an accounting entry."
        ),
    ),
    "orders": Definition(
        _("Orders"), _("Orders members placed during the period (by the order's date).")
    ),
    "revenue": Definition(
        _("Revenue"),
        _("The total of those orders in your program's currency, before refunds."),
    ),
    "refunded": Definition(
        _("Refunded"),
        _("Refunds recorded during the period, in your program's currency."),
    ),
    "average_order_value": Definition(
        _("Average order value"), _("Revenue divided by the number of orders.")
    ),
    "repeat_purchase_rate": Definition(
        _("Repeat-purchase rate"),
        _("Of the members who ordered during the period, the share who ordered at least twice."),
    ),
    "redeemers": Definition(
        _("Members who redeemed"),
        _(
            "Members who spent points on a reward during the period; the others are "
            "members who did not."
        ),
    ),
    "top_members_points": Definition(
        _("Top members by points earned"),
        _("The members who earned the most points during the period."),
    ),
    "top_members_orders": Definition(
        _("Top members by orders"),
        _("The members who placed the most orders during the period."),
    ),
}

deferred_revenue_bases: dict[str, str | Promise] = {
    "mature": _("Estimated from the months whose points can no longer expire."),
    "all_cohorts": _(
        "No month's points have finished expiring yet, so the share expired so "
        "far across every month was used: the estimate will likely grow."
    ),
    "no_expiry": _("Your program's points never expire, so no breakage is assumed."),
    "no_points": _("No points have been issued yet."),
}
