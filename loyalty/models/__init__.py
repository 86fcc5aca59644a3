from loyalty.models.ledger import LedgerEntry, LotMovement, PointLot
from loyalty.models.member import (
    AttributeType,
    Member,
    MemberAttribute,
    MemberStatus,
    TierChange,
)
from loyalty.models.orders import Activity, ActivityKind, Order, OrderLine, Refund
from loyalty.models.program import (
    CapPeriod,
    EarningRule,
    ExpiryPolicy,
    Program,
    Rounding,
    RuleAward,
    RuleKind,
    Tier,
    TierBasis,
)
from loyalty.models.rates import ExchangeRate
from loyalty.models.reports import (
    ReportCohortDay,
    ReportDayStamp,
    ReportEntryDay,
    ReportJoinDay,
    ReportMemberDay,
    ReportOrderDay,
    ReportTierMoveDay,
    ReportWatermark,
)
from loyalty.models.segments import MemberScore, Segment, SegmentMembership

__all__ = [
    "Activity",
    "ActivityKind",
    "AttributeType",
    "CapPeriod",
    "EarningRule",
    "ExchangeRate",
    "ExpiryPolicy",
    "LedgerEntry",
    "LotMovement",
    "Member",
    "MemberAttribute",
    "MemberScore",
    "MemberStatus",
    "Order",
    "OrderLine",
    "PointLot",
    "Program",
    "Refund",
    "ReportCohortDay",
    "ReportDayStamp",
    "ReportEntryDay",
    "ReportJoinDay",
    "ReportMemberDay",
    "ReportOrderDay",
    "ReportTierMoveDay",
    "ReportWatermark",
    "Rounding",
    "RuleAward",
    "RuleKind",
    "Segment",
    "SegmentMembership",
    "Tier",
    "TierBasis",
    "TierChange",
]
