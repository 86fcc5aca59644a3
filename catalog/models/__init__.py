from catalog.models.alerts import AlertKind, CatalogAlert
from catalog.models.brands import Brand, Category
from catalog.models.pools import CodePool, VoucherCode
from catalog.models.rewards import (
    RECIPIENT_FIELDS,
    DenominationKind,
    Reward,
    RewardStatus,
    RewardType,
)
from catalog.models.selection import MerchantCatalogItem, PriceRounding
from catalog.models.suppliers import Supplier, SupplierKind, SupplierOffer

__all__ = [
    "RECIPIENT_FIELDS",
    "AlertKind",
    "Brand",
    "CatalogAlert",
    "Category",
    "CodePool",
    "DenominationKind",
    "MerchantCatalogItem",
    "PriceRounding",
    "Reward",
    "RewardStatus",
    "RewardType",
    "Supplier",
    "SupplierKind",
    "SupplierOffer",
    "VoucherCode",
]
