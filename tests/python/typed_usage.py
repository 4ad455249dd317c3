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
    client = piaoju.Client(juhe_key="k", timeout=3.0, retry_max_attempts=2, cache="r.sqlite")
    slow: piaoju.Client = client.with_options(timeout=60.0, max_qps=None)
    print(repr(slow))
    # mypy --strict warns of an unused ignore: each line below must really be an error.
    piaoju.Client("k")  # type: ignore[call-arg]
    client.with_options(timout=60.0)  # type: ignore[call-arg]
    client.with_options(timeout="60")  # type: ignore[arg-type]
    try:
        receipt = client.recognize_shopping_receipt(path)
        print(total(receipt), receipt.checks_passed)
    except piaoju.Timeout as e:
        print(e.code, e.retryable)
    amount: Decimal = piaoju.checks.amount_in_words("壹万圆整")
    print(amount)


async def run_async(path: str) -> None:
    client = piaoju.AsyncClient(juhe_key="k", max_in_flight=8)
    receipt = await client.recognize_shopping_receipt(path)
    print(total(receipt))
    invoice = await client.with_options(chinaums_app_id="id", chinaums_app_key="k").recognize_used_car_invoice(path)
    print(issued(invoice))
