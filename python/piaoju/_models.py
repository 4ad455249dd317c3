"""Result classes: typed views over the core's result schema (see README, "Result schema").

Each class keeps the schema dict it was built from: ``to_dict()`` returns it (a deep copy) and
``to_json()`` the core's own JSON text. Amounts and quantities are ``decimal.Decimal``, dates
``datetime.date``, times ``datetime.time``; a value the service did not recognize is ``None``.
"""

from __future__ import annotations

import copy
import datetime
import json
from decimal import Decimal
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple

__all__ = ["Check", "ReceiptItem", "ShoppingReceipt", "Field", "UsedCarInvoice"]


def _decimal(v: Any) -> Optional[Decimal]:
    return None if v is None else Decimal(v)


def _date(v: Any) -> Optional[datetime.date]:
    return None if v is None else datetime.date.fromisoformat(v)


def _time(v: Any) -> Optional[datetime.time]:
    return None if v is None else datetime.time.fromisoformat(v)


def _same(v: Any) -> Any:
    return v


class _Record:
    """A typed view of one schema object."""

    _CONVERT: ClassVar[Dict[str, Callable[[Any], Any]]] = {}
    _REPR: ClassVar[Tuple[str, ...]] = ()
    _data: Dict[str, Any]
    _json: Optional[str]

    def __init__(self, data: Dict[str, Any], json_text: Optional[str] = None) -> None:
        self._data = data
        self._json = json_text
        for name, convert in self._CONVERT.items():
            setattr(self, name, convert(data.get(name)))

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON schema, as a new dict."""
        return copy.deepcopy(self._data)

    def to_json(self) -> str:
        """The core's JSON text."""
        if self._json is not None:
            return self._json
        return json.dumps(self._data, ensure_ascii=False, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._data == self._data  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self._data, self._json))

    def __repr__(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in self._REPR]
        return f"{type(self).__name__}({', '.join(parts)})"


class Check(_Record):
    """The outcome of one validation check: ``status`` is "pass", "fail" or "skipped"."""

    name: str
    fields: List[str]
    status: str
    message: str
    suggestion: Optional[str]
    _CONVERT = {"name": _same, "fields": list, "status": _same, "message": _same, "suggestion": _same}
    _REPR = ("name", "status", "message", "suggestion")

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def _checks(v: Any) -> List[Check]:
    return [Check(c) for c in v or []]


class ReceiptItem(_Record):
    """One line of a receipt."""

    product: Optional[str]
    quantity: Optional[Decimal]
    unit_price: Optional[Decimal]
    subtotal_amount: Optional[Decimal]
    _CONVERT = {"product": _same, "quantity": _decimal, "unit_price": _decimal, "subtotal_amount": _decimal}
    _REPR = ("product", "quantity", "unit_price", "subtotal_amount")


class _Document(_Record):
    checks: List[Check]

    @property
    def checks_passed(self) -> bool:
        """True when no check failed (skipped checks do not count against it)."""
        return not any(c.failed for c in self.checks)

    @property
    def failed_checks(self) -> List[Check]:
        return [c for c in self.checks if c.failed]


class ShoppingReceipt(_Document):
    """A recognized shopping receipt (Juhe 购物小票)."""

    document_type: str
    provider: str
    order_id: Optional[str]
    shop_name: Optional[str]
    receipt_num: Optional[str]
    machine_num: Optional[str]
    employee_num: Optional[str]
    consumption_date: Optional[datetime.date]
    consumption_time: Optional[datetime.time]
    total_amount: Optional[Decimal]
    change: Optional[Decimal]
    currency: Optional[str]
    paid_amount: Optional[Decimal]
    discount: Optional[Decimal]
    print_date: Optional[datetime.date]
    print_time: Optional[datetime.time]
    table_row_num: Optional[int]
    items: List[ReceiptItem]
    raw: Dict[str, Any]
    _CONVERT = {
        "document_type": _same,
        "provider": _same,
        "order_id": _same,
        "shop_name": _same,
        "receipt_num": _same,
        "machine_num": _same,
        "employee_num": _same,
        "consumption_date": _date,
        "consumption_time": _time,
        "total_amount": _decimal,
        "change": _decimal,
        "currency": _same,
        "paid_amount": _decimal,
        "discount": _decimal,
        "print_date": _date,
        "print_time": _time,
        "table_row_num": _same,
        "items": lambda v: [ReceiptItem(i) for i in v or []],
        "checks": _checks,
        "raw": _same,
    }
    _REPR = ("shop_name", "total_amount", "consumption_date", "order_id", "checks_passed")


class Field(_Record):
    """One recognized field of an invoice, as the service returned it."""

    key: str
    chn_key: Optional[str]
    value: str
    score: Optional[float]
    position: Optional[Dict[str, float]]
    quad: List[float]
    _CONVERT = {"key": _same, "chn_key": _same, "value": _same, "score": _same, "position": _same, "quad": list}
    _REPR = ("key", "chn_key", "value")


# Normalization of the invoice fields by kind; the names come from the core (INVOICE_FIELDS),
# and a test checks that the annotations below list exactly those.
_INVOICE_KIND: Dict[str, Callable[[Any], Any]] = {"Text": _same, "Money": _decimal, "Date": _date}


class UsedCarInvoice(_Document):
    """A recognized used-car sales invoice (ChinaUMS 二手车销售统一发票)."""

    document_type: str
    provider: str
    serial_id: Optional[str]
    invoice_code: Optional[str]
    invoice_number: Optional[str]
    issue_date: Optional[datetime.date]
    buyer_name: Optional[str]
    buyer_id: Optional[str]
    buyer_address: Optional[str]
    buyer_phone: Optional[str]
    seller_name: Optional[str]
    seller_id: Optional[str]
    seller_address: Optional[str]
    seller_phone: Optional[str]
    plate_number: Optional[str]
    registration_number: Optional[str]
    vehicle_type: Optional[str]
    vin: Optional[str]
    brand_model: Optional[str]
    vehicle_office: Optional[str]
    total_price: Optional[Decimal]
    total_price_in_words: Optional[str]
    machine_invoice_code: Optional[str]
    machine_invoice_number: Optional[str]
    machine_number: Optional[str]
    tax_control_code: Optional[str]
    dealer_name: Optional[str]
    dealer_address: Optional[str]
    dealer_tax_id: Optional[str]
    dealer_bank_account: Optional[str]
    dealer_phone: Optional[str]
    market_name: Optional[str]
    market_tax_id: Optional[str]
    market_address: Optional[str]
    market_bank_account: Optional[str]
    market_phone: Optional[str]
    remarks: Optional[str]
    issuer: Optional[str]
    has_seal: Optional[bool]
    fields: List[Field]
    raw: Dict[str, Any]
    _CONVERT = {}  # filled from the core's field table below
    _REPR = ("invoice_number", "issue_date", "vin", "total_price", "checks_passed")


def _init_invoice_fields(table: List[Tuple[str, str, str, str]]) -> None:
    convert: Dict[str, Callable[[Any], Any]] = {
        "document_type": _same,
        "provider": _same,
        "serial_id": _same,
    }
    for _key, name, _chn, kind in table:
        convert[name] = _INVOICE_KIND[kind]
    convert.update({"has_seal": _same, "fields": lambda v: [Field(f) for f in v or []],
                    "checks": _checks, "raw": _same})
    UsedCarInvoice._CONVERT = convert
