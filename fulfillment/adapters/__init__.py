"""Supplier adapters: one interface (``base``) and the built-in adapters, found by name
through ``adapter_for``."""

from fulfillment.adapters.base import (
    AdapterConfigError,
    AdapterError,
    DeliveredCode,
    ErrorKind,
    OrderRequest,
    OrderResult,
    OrderStatus,
    RetryableError,
    SupplierAdapter,
    TerminalError,
    Tracking,
    UnknownAdapter,
    UnknownOutcome,
)
from fulfillment.adapters.registry import ADAPTERS, adapter_class, adapter_for

__all__ = [
    "ADAPTERS",
    "AdapterConfigError",
    "AdapterError",
    "DeliveredCode",
    "ErrorKind",
    "OrderRequest",
    "OrderResult",
    "OrderStatus",
    "RetryableError",
    "SupplierAdapter",
    "TerminalError",
    "Tracking",
    "UnknownAdapter",
    "UnknownOutcome",
    "adapter_class",
    "adapter_for",
]
