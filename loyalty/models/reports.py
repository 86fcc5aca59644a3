"""The report aggregates: per-merchant daily sums of the ledger, the lots, orders, members
and tier moves, bucketed by the merchant's local day (``Merchant.timezone``).

Only ``loyalty.reports.aggregates`` writes them, by recomputing whole (merchant, day)
buckets from the source tables; reports read them and never the ledger. Every table is
read as ``merchant = X and day between a and b``: each has an index (a unique constraint
where one holds) that starts with ``(merchant, day)``; the ops home reads the entry days
of every merchant by day alone.
"""

from django.db import models

from loyalty.models.member import Member
from loyalty.models.program import Tier
from merchants.models import Merchant

# The cohort movement of points a lot was formed with; the other movements are named after
# the kind of ledger entry that moved the points (redeem, expire, reverse...).
COHORT_ISSUE = "issue"


def _merchant():
    return models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", db_index=False)


class ReportEntryDay(models.Model):
    """Ledger entries of a local day by kind and source: sums of their two columns."""

    merchant = _merchant()
    day = models.DateField()
    kind = models.CharField(max_length=20)
    source_type = models.CharField(max_length=12)
    points = models.BigIntegerField()
    pending = models.BigIntegerField()
    entries = models.PositiveIntegerField()

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "day", "kind", "source_type"], name="report_entry_day_unique"
            )
        ]
        # The ops home's money cards: every merchant's days of the last week.
        indexes = [models.Index(fields=["day"], name="report_entry_day_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}/{self.source_type}: {self.points:+d}"


class ReportCohortDay(models.Model):
    """Points of one issue-month cohort (the local month a lot was earned in) that moved on
    a local day: formed (``issue``) or taken or given back by entries of a kind."""

    merchant = _merchant()
    day = models.DateField()
    cohort = models.DateField(help_text="The first day of the month the lots were earned in.")
    movement = models.CharField(max_length=20)
    points = models.BigIntegerField(help_text="Signed: what was taken is negative.")

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "day", "cohort", "movement"], name="report_cohort_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} cohort {self.cohort:%Y-%m} {self.movement}: {self.points:+d}"


class ReportMemberDay(models.Model):
    """What one member did on a local day: what distinct-member figures count."""

    merchant = _merchant()
    day = models.DateField()
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    earned = models.BooleanField()
    spent = models.BooleanField(help_text="Spent points (any redeem entry).")
    redeemed = models.BooleanField(help_text="Spent points on a reward (a redemption).")
    ordered = models.BooleanField()
    points_earned = models.BigIntegerField()
    orders = models.PositiveIntegerField()
    revenue = models.DecimalField(
        max_digits=18, decimal_places=4, help_text="Orders' totals in the program's currency."
    )

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "day", "member"], name="report_member_day_unique"
            )
        ]
        # The distinct-member figures and the top members group a period's rows by member:
        # read in member order, from the index alone (PostgreSQL; elsewhere a plain index).
        indexes = [
            models.Index(
                fields=["merchant", "member", "day"],
                include=[
                    "earned",
                    "spent",
                    "redeemed",
                    "ordered",
                    "points_earned",
                    "orders",
                    "revenue",
                ],
                name="report_member_day_by_member",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} member {self.member_id}"


class ReportOrderDay(models.Model):
    """Orders placed on a local day and refunds recorded on it, in the program's currency."""

    merchant = _merchant()
    day = models.DateField()
    orders = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=18, decimal_places=4)
    refunds = models.PositiveIntegerField()
    refunded = models.DecimalField(max_digits=18, decimal_places=4)

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day"], name="report_order_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.orders} order(s)"


class ReportJoinDay(models.Model):
    """Members who joined on a local day, by country."""

    merchant = _merchant()
    day = models.DateField()
    country = models.CharField(max_length=2, blank=True)
    members = models.PositiveIntegerField()

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "day", "country"], name="report_join_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.country or '-'}: {self.members}"


class ReportTierMoveDay(models.Model):
    """Tier changes of a local day by (from, to); no tier is null. A member joins with no
    tier and every later move is a ``TierChange``, so the members of a tier at the end of
    a day are the moves into it less the moves out of it, up to that day."""

    merchant = _merchant()
    day = models.DateField()
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    moves = models.PositiveIntegerField()

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        indexes = [models.Index(fields=["merchant", "day"], name="report_tier_move_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.from_tier_id} -> {self.to_tier_id}: {self.moves}"


class ReportDayStamp(models.Model):
    """When a (merchant, local day) bucket was last recomputed: what was computed from the
    aggregates before then may be out of date (``loyalty.reports.selectors.days_changed``).
    Written by the bucket function with the buckets, in their transaction."""

    merchant = _merchant()
    day = models.DateField()
    recomputed_at = models.DateTimeField()

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day"], name="report_day_stamp_unique")
        ]
        indexes = [
            models.Index(fields=["merchant", "recomputed_at"], name="report_day_stamp_recent")
        ]

    def __str__(self) -> str:
        return f"{self.day} recomputed at {self.recomputed_at:%Y-%m-%d %H:%M:%S}"


class ReportWatermark(models.Model):
    """How far the incremental job has read one source table, by id.

    ``last_id``: every row up to it is in the aggregates. ``seen_id``/``seen_at``: the
    highest id the job saw and when; it is read up to once the settle delay has passed
    since, so that a row whose id was taken before ``seen_at`` but committed later is
    not passed over. ``covered_at``: the figures hold every row committed before then."""

    source = models.CharField(max_length=20, unique=True)
    last_id = models.BigIntegerField(default=0)
    seen_id = models.BigIntegerField(default=0)
    seen_at = models.DateTimeField(null=True, blank=True)
    covered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    reads_from_replica = True  # core.replica: report reads go to the replica

    class Meta:
        ordering = ["source"]

    def __str__(self) -> str:
        return f"{self.source} up to {self.last_id}"
