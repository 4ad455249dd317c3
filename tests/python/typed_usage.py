"""Type-checked with mypy --strict by the test suite: the package's types are usable."""

import datetime
from decimal import Decimal
from typing import List, Optional

import piaoju


def total(receipt: piaoju.ShoppingReceipt) -> Optional[Decimal]:
    return receipt.total_amount


def issued(invoice: piaoju.UsedCarInvoice) -> Optional[datetime.date]:
    return invoice.issue_date


def failed(doc: piaoju.UsedCarInvoice) -> List[str]:
    return [c.name for c in doc.checks if c.status == "fail"]


def run(path: str) -> None:
    client = piaoju.Client(juhe_key="k")
    try:
        receipt = client.recognize_shopping_receipt(path)
        print(total(receipt), receipt.checks_passed)
    except piaoju.Timeout as e:
        print(e.code, e.retryable)
    amount: Decimal = piaoju.checks.amount_in_words("壹万圆整")
    print(amount)
