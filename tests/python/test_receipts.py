"""Receipts as Chinese shops print them, through the sandbox and the typed results: weighed
goods with their units, unit prices with units, discount lines and fields, 抹零, paid amounts
and change. The receipts and what they hold come from scripts/make_receipt_corpus.py, an
independent implementation; here a few hundred of them go through a real call each."""

import json
import pathlib
import sys
from decimal import Decimal

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import make_receipt_corpus  # noqa: E402

SCALARS = ("total_amount", "paid_amount", "change", "discount")
ITEM_FIELDS = ("product", "quantity", "quantity_unit", "unit_price", "price_unit", "subtotal_amount")
DECIMALS = {"total_amount", "paid_amount", "change", "discount", "quantity", "unit_price", "subtotal_amount"}


def typed(field, value):
    """What the generator says, as the typed result must hold it."""
    if value is None or field not in DECIMALS:
        return value
    return Decimal(value)


def wrong_values(receipt, expect):
    wrong = []
    for field in SCALARS:
        got, want = getattr(receipt, field), typed(field, expect[field])
        # Decimal("1.50") == Decimal("1.5"): compare the digits too.
        if got != want or str(got) != str(want):
            wrong.append(f"{field}: {got!r} != {want!r}")
    if receipt.table_row_num != expect["table_row_num"]:
        wrong.append("table_row_num")
    if len(receipt.items) != len(expect["items"]):
        return wrong + ["items"]
    for k, (item, want) in enumerate(zip(receipt.items, expect["items"])):
        for field in ITEM_FIELDS:
            got, w = getattr(item, field), typed(field, want[field])
            if got != w or str(got) != str(w):
                wrong.append(f"items[{k}].{field}: {got!r} != {w!r}")
    return wrong


@pytest.fixture(scope="module")
def shop_sandbox():
    import piaoju

    with piaoju.Sandbox() as sb:
        yield sb


def test_a_few_hundred_shop_receipts_through_the_sandbox(shop_sandbox, fixtures, capsys):
    png = (fixtures / "receipt.png").read_bytes()
    client = shop_sandbox.client()
    cases = [json.loads(line) for line in make_receipt_corpus.corpus(count=150, seed=11).splitlines()]
    receipts = false_alarms = wrong = planted = caught = 0
    examples = []
    for n, case in enumerate(cases):
        image = png + f"shop-{n}".encode()
        shop_sandbox.register_answer(image, json.dumps(case["answer"], ensure_ascii=False))
        r = client.recognize_shopping_receipt(image)
        if case["kind"] == "receipt":
            receipts += 1
            bad = wrong_values(r, case["expect"])
            wrong += bool(bad)
            false_alarms += not r.checks_passed
            if bad or not r.checks_passed:
                examples.append((case["id"], bad, [c.message for c in r.failed_checks]))
        else:
            planted += 1
            caught += not r.checks_passed
    with capsys.disabled():
        print(f"\nshop receipts through the sandbox: {receipts} receipts, {false_alarms} false alarms, "
              f"{wrong} with a value read wrongly; {caught} of {planted} planted misreads caught")
    assert receipts == 150 and planted == 150
    assert (false_alarms, wrong) == (0, 0), examples[:5]
    assert caught * 100 >= planted * 95


def test_a_weighed_receipt_and_moling_as_typed_results(shop_sandbox, fixtures):
    png = (fixtures / "receipt.png").read_bytes()
    client = shop_sandbox.client()
    shop_sandbox.register_answer(png + b"weighed", (fixtures / "juhe_receipt_weighed.json").read_text("utf-8"))
    r = client.recognize_shopping_receipt(png + b"weighed")
    assert r.checks_passed, r.failed_checks
    apples, pork, eggs, drink = r.items
    assert (apples.quantity, apples.quantity_unit, apples.unit_price, apples.price_unit, apples.subtotal_amount) == (
        Decimal("1.5"), "斤", Decimal("2.21"), "斤", Decimal("3.32"))
    assert (pork.quantity, pork.quantity_unit, pork.price_unit) == (Decimal("0.352"), "kg", "kg")
    assert str(pork.quantity) == "0.352"
    assert (eggs.quantity, eggs.quantity_unit, eggs.price_unit) == (Decimal("352"), "g", "斤")
    assert (drink.quantity, drink.quantity_unit, drink.price_unit) == (Decimal("5"), None, None)
    assert "quantity_unit='斤'" in repr(apples)
    assert apples.to_dict()["quantity_unit"] == "斤"
    messages = [c.message for c in r.checks if c.name == "item_amount"]
    assert messages[0] == "item 1: 1.5 斤 × 2.21/斤 = 3.315, rounded half up to the fen: 3.32"
    assert messages[2] == "item 3: 352 g × 12.00/斤 = 8.448, rounded half up to the fen: 8.45"
    total = next(c for c in r.checks if c.name == "items_sum_to_total")
    assert total.passed and "rounded down by 0.08 (抹零)" in total.message

    shop_sandbox.register_answer(png + b"moling", (fixtures / "juhe_receipt_moling.json").read_text("utf-8"))
    r = client.recognize_shopping_receipt(png + b"moling")
    assert r.checks_passed, r.failed_checks
    assert r.total_amount == Decimal("142.00") and r.discount == Decimal("10.00")
    assert r.items[2].product == "会员优惠" and r.items[2].subtotal_amount == Decimal("-5.00")
    total = next(c for c in r.checks if c.name == "items_sum_to_total")
    assert "rounded down by 0.30 (抹零) to the yuan" in total.message

    # One digit of the total misread: the check fails and quotes the numbers.
    answer = json.loads((fixtures / "juhe_receipt_moling.json").read_text("utf-8"))
    answer["result"]["data"]["total_amount"] = "146.00"
    shop_sandbox.register_answer(png + b"misread", json.dumps(answer, ensure_ascii=False))
    r = client.recognize_shopping_receipt(png + b"misread")
    failed = {c.name: c.message for c in r.failed_checks}
    assert "items_sum_to_total" in failed and "146.00" in failed["items_sum_to_total"]
    assert "142.30" in failed["items_sum_to_total"]
