"""piaoju (票据): typed results from Chinese document-OCR services.

- Juhe shopping receipt OCR (购物小票) → :class:`ShoppingReceipt`
- ChinaUMS used-car sales e-invoice OCR (二手车销售统一发票) → :class:`UsedCarInvoice`

Every image is checked before anything is sent; every failure raises a :class:`PiaojuError`
subclass carrying the core's stable code; every result carries validation ``checks``.
"""

from . import _native, checks
from ._async_client import AsyncBatchResults, AsyncClient
from ._client import BatchItem, BatchResults, BatchSummary, Client, Image, Progress
from ._options import ClientOptions
from ._models import Check, Field, ReceiptItem, ShoppingReceipt, UsedCarInvoice
from ._sandbox import Sandbox
from .errors import (
    AuthError,
    ConfigError,
    ImageError,
    InternalError,
    NetworkError,
    PiaojuError,
    QuotaError,
    RecognitionError,
    ResponseError,
    ServiceError,
    Timeout,
    UsageError,
)

__version__: str = _native.__version__

__all__ = [
    "Client",
    "AsyncClient",
    "ClientOptions",
    "Image",
    "BatchItem",
    "BatchResults",
    "AsyncBatchResults",
    "BatchSummary",
    "Progress",
    "Sandbox",
    "ShoppingReceipt",
    "ReceiptItem",
    "UsedCarInvoice",
    "Field",
    "Check",
    "checks",
    "PiaojuError",
    "UsageError",
    "ConfigError",
    "ImageError",
    "NetworkError",
    "Timeout",
    "AuthError",
    "QuotaError",
    "ServiceError",
    "RecognitionError",
    "ResponseError",
    "InternalError",
    "__version__",
]
