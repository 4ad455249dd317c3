"""Result classes: immutable, typed views of the core's result schema (docs/results.md).

The classes carry no field list of their own: their attributes and conversions come from the
core's schema (``_native.schema()``), and their types from ``_models.pyi``, which
``scripts/gen_model_stubs.py`` writes from the same schema (a test keeps it current).

A record holds the core's JSON text. ``to_json()`` is that text, ``to_dict()`` a fresh parse of
it, ``==`` and ``hash`` compare its value: they cannot disagree, and assigning an attribute
raises.
Amounts and quantities are ``decimal.Decimal``, dates ``datetime.date``, times
``datetime.time``; lists are tuples and the provider's raw JSON a read-only mapping.
"""

from __future__ import annotations

import datetime
import json
import types
from decimal import Decimal
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple, Type

from . import _native

__all__ = ["Check", "ReceiptItem", "ShoppingReceipt", "Field", "UsedCarInvoice"]


def _freeze(value: Any) -> Any:
    """A read-only copy of parsed JSON: mappings become read-only, lists tuples."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _text_of(data: Dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class _Record:
    """An immutable record of the core's schema."""

    __slots__ = ("_json", "_values")
    _FIELDS: ClassVar[Tuple[Tuple[str, Callable[[Any], Any]], ...]] = ()
    _REPR: ClassVar[Tuple[str, ...]] = ()
    _json: str
    _values: Dict[str, Any]

    def __init__(self, data: Dict[str, Any], json_text: Optional[str] = None) -> None:
        object.__setattr__(self, "_json", json_text if json_text is not None else _text_of(data))
        object.__setattr__(self, "_values", {name: convert(data.get(name)) for name, convert in self._FIELDS})

    @classmethod
    def _from_json(cls, text: str) -> Any:
        return cls(json.loads(text), text)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # slots not set yet (while unpickling, say)
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: {name!r} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: {name!r} cannot be deleted")

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._values))

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON schema, as a new dict."""
        result: Dict[str, Any] = json.loads(self._json)
        return result

    def to_json(self) -> str:
        """The core's JSON text."""
        return self._json

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        other_json: str = other._json  # type: ignore[attr-defined]
        return self._json == other_json or json.loads(self._json) == json.loads(other_json)

    def __hash__(self) -> int:
        # Equal values have equal canonical texts, whoever wrote the JSON.
        canonical = json.dumps(json.loads(self._json), ensure_ascii=False, sort_keys=True)
        return hash((type(self).__name__, canonical))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self)._from_json, (self._json,))

    def __repr__(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in self._REPR]
        return f"{type(self).__name__}({', '.join(parts)})"


class Check(_Record):
    """The outcome of one validation check: ``status`` is "pass", "fail" or "skipped"."""

    __slots__ = ()
    _REPR = ("name", "status", "message", "suggestion")

    @property
    def passed(self) -> bool:
        return bool(self.status == "pass")

    @property
    def failed(self) -> bool:
        return bool(self.status == "fail")


class ReceiptItem(_Record):
    """One line of a receipt."""

    __slots__ = ()
    _REPR = ("product", "quantity", "quantity_unit", "unit_price", "price_unit", "subtotal_amount")


class _Document(_Record):
    __slots__ = ()

    @property
    def checks_passed(self) -> bool:
        """True when no check failed (skipped checks do not count against it)."""
        return not any(c.failed for c in self.checks)

    @property
    def failed_checks(self) -> Tuple[Check, ...]:
        return tuple(c for c in self.checks if c.failed)


class ShoppingReceipt(_Document):
    """A recognized shopping receipt (Juhe 购物小票)."""

    __slots__ = ()
    _REPR = ("shop_name", "total_amount", "consumption_date", "order_id", "checks_passed")


class Field(_Record):
    """One recognized field of an invoice, as the service returned it."""

    __slots__ = ()
    _REPR = ("key", "chn_key", "value")


class UsedCarInvoice(_Document):
    """A recognized used-car sales invoice (ChinaUMS 二手车销售统一发票)."""

    __slots__ = ()
    _REPR = ("invoice_number", "issue_date", "vin", "total_price", "checks_passed")


_RECORDS: Dict[str, Type[_Record]] = {
    "ShoppingReceipt": ShoppingReceipt,
    "ReceiptItem": ReceiptItem,
    "UsedCarInvoice": UsedCarInvoice,
    "Field": Field,
    "Check": Check,
}


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else convert(v)


def _converter(kind: str) -> Callable[[Any], Any]:
    """How a value of a schema kind becomes a Python value."""
    if kind.startswith("records:"):
        record = _RECORDS[kind.split(":", 1)[1]]
        return lambda v: tuple(record(item) for item in v or ())
    simple: Dict[str, Callable[[Any], Any]] = {
        "text": lambda v: v,
        "integer": lambda v: v,
        "boolean": lambda v: v,
        "float": lambda v: v,
        "decimal": _optional(Decimal),
        "date": _optional(datetime.date.fromisoformat),
        "time": _optional(datetime.time.fromisoformat),
        "strings": lambda v: tuple(v or ()),
        "floats": lambda v: tuple(v or ()),
        "position": _freeze,
        "json": _freeze,
    }
    return simple[kind]


def _install_schema(schema: List[Tuple[str, List[Tuple[str, str, bool]]]]) -> None:
    """Give each record class its fields, from the core's schema."""
    records = dict(schema)
    if set(records) != set(_RECORDS):
        raise ImportError(f"piaoju._native's schema has records {sorted(records)}, expected {sorted(_RECORDS)}")
    for name, cls in _RECORDS.items():
        cls._FIELDS = tuple((field, _converter(kind)) for field, kind, _nullable in records[name])


_install_schema(_native.schema())
