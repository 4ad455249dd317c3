"""Standalone validation checks, the same code that checks every result.

Each function returns a :class:`piaoju.Check` (``status`` "pass", "fail" or "skipped",
``message``, ``suggestion``), except :func:`amount_in_words`, which returns the amount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from . import _native
from ._models import Check

__all__ = [
    "vin",
    "resident_id",
    "social_credit_code",
    "party_id",
    "invoice_number",
    "plate_number",
    "issue_date",
    "amount_in_words",
]


def _run(name: str, value: str, other: Optional[str] = None) -> Check:
    if not isinstance(value, str):
        _native.raise_error(100, f"the value to check must be a str, not {type(value).__name__}")
    return Check._from_json(_native.run_check(name, value, other))


def vin(value: str) -> Check:
    """Vehicle identification number (ISO 3779 check digit).

    Characters with the same transliterated value (A and J, for instance) are invisible to the
    check digit: such a misread passes."""
    return _run("vin", value)


def resident_id(value: str) -> Check:
    """18-character resident ID: birth date and ISO 7064 MOD 11-2 check character."""
    return _run("resident_id", value)


def social_credit_code(value: str) -> Check:
    """Unified social credit code (GB 32100-2015) check character."""
    return _run("social_credit_code", value)


def party_id(value: str) -> Check:
    """An invoice party's ID: resident ID or social credit code, by its form."""
    return _run("party_id", value)


def invoice_number(value: str, issue_date: Optional[str] = None) -> Check:
    """20-digit e-invoice number; its first two digits against the issue year when given."""
    return _run("invoice_number", value, issue_date)


def plate_number(value: str) -> Check:
    """Chinese licence plate form: province, letter, 5 or 6 letters or digits."""
    return _run("plate_number", value)


def issue_date(value: str) -> Check:
    """A valid date, not in the future (Beijing time)."""
    return _run("issue_date", value)


def amount_in_words(text: str) -> Decimal:
    """Chinese uppercase money (大写金额) to an exact amount: "壹万圆整" → Decimal("10000.00").

    Raises :class:`piaoju.UsageError` (a ``ValueError``) when the text is not an amount."""
    if not isinstance(text, str):
        _native.raise_error(100, f"the amount in words must be a str, not {type(text).__name__}")
    return Decimal(_native.amount_in_words(text))
