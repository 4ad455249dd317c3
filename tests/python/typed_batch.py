"""Type-checked with mypy --strict by the test suite: a batch's items have the document's type
(no isinstance needed), its progress is a TypedDict."""

from decimal import Decimal
from typing import List, Optional

import piaoju


def progress(p: piaoju.Progress) -> None:
    print(f"{p['done']}/{p['total']}, {p['failed']} failed, {p['in_flight']} in flight")


def totals(client: piaoju.Client, paths: List[str]) -> List[Optional[Decimal]]:
    out: List[Optional[Decimal]] = []
    with client.recognize_many(paths, kind="receipt", on_progress=progress) as results:
        for item in results:
            if item.result is not None:
                out.append(item.result.total_amount)  # a ShoppingReceipt's field
            elif item.error is not None:
                print(item.error.code, item.error.hint)
        summary = results.summary
        if summary is not None:
            print(summary.requests, summary.possibly_billed_requests)
    return out


def vins(client: piaoju.Client, paths: List[str]) -> List[Optional[str]]:
    return [i.result.vin for i in client.recognize_many(paths, kind="invoice") if i.result]


async def async_totals(client: piaoju.AsyncClient, paths: List[str]) -> List[Optional[Decimal]]:
    out: List[Optional[Decimal]] = []
    async with client.recognize_many(paths, kind="shopping_receipt", jobs=8, on_progress=progress) as results:
        async for item in results:
            if item.result is not None:
                out.append(item.result.total_amount)  # a ShoppingReceipt's field
        summary = results.summary
        if summary is not None:
            print(summary.requests)
    return out


async def async_vins(client: piaoju.AsyncClient, paths: List[str]) -> List[Optional[str]]:
    # The document type's name (as results say it) and its short alias type alike.
    named = [i.result.vin async for i in client.recognize_many(paths, kind="used_car_invoice") if i.result]
    short = [i.result.vin async for i in client.recognize_many(paths, kind="invoice") if i.result]
    return named + short
