#!/usr/bin/env python3
"""Receipts as Chinese shops print them, as Juhe answers, with the values they hold: an
independent implementation (this script, exact fractions) of what piaoju must read and accept.

    python3 scripts/make_receipt_corpus.py --stdout [--count N] [--seed S] [--plain]  # JSONL
    python3 scripts/make_receipt_corpus.py --write    # rewrite the committed fixtures below
    python3 scripts/make_receipt_corpus.py --check    # fail if they differ from this script

Deterministic (seeded; only random(), randrange() and choice(), stable across Python 3
versions). The corpus is generated at test time (the Rust test core/src/receipt_corpus.rs and
the Python test test_receipts.py run this script); git holds only its digest and two answers:

- tests/fixtures/receipt_corpus.sha256: the SHA-256 and line count of the default corpus, so
  that --check notices when the corpus the tests see changes;
- tests/fixtures/juhe_receipt_weighed.json: weighed goods with units (斤, kg, g), a subtotal
  rounded half up, and the total rounded down to the jiao (抹零);
- tests/fixtures/juhe_receipt_moling.json: a member discount line, a discount field and the
  total rounded down to the yuan (抹零), paid in cash with change.

--plain makes receipts of only what piaoju read before weighed goods, units, discounts and 抹零
(counted goods, plain unit prices, paid amounts and change): on them, the detection of
misreads is compared with what the exact checks caught.

Corpus lines are JSON objects of two kinds:

- {"kind": "receipt", "id", "forms": [...], "answer": {Juhe answer}, "expect": {...}}: a correct
  receipt. "expect" holds what piaoju must read, as its JSON writes it: total_amount,
  paid_amount, change, discount, table_row_num and items (product, quantity, quantity_unit,
  unit_price, price_unit, subtotal_amount); no check of it may fail. "forms" names what it
  shows (weighed, jin, gram, liang, kg, count_unit, price_unit, conversion, cut, half_up,
  moling_jiao, moling_yuan, total_before_moling, member, manjian, coupon, discount_field,
  discount_summary, total_before_discount, minus_after, unsigned_discount, change, exact_paid).
- {"kind": "misread", "id", "field", "printed", "misread", "answer"}: the receipt of the same id
  with one digit of one subtotal or of the total misread as another digit; a check must fail.
"""
import hashlib
import json
import os
import random
import sys
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DIGEST = os.path.join(FIXTURES, "receipt_corpus.sha256")
SEED = 20260522
COUNT = 1200

GRAMS = {"kg": 1000, "g": 1, "斤": 500, "两": 50}

PRODUCTS = ["营养快线", "可口可乐", "农夫山泉", "康师傅红烧牛肉面", "旺旺雪饼", "伊利纯牛奶", "清风抽纸",
            "蓝月亮洗衣液", "德芙巧克力", "乐事薯片", "金龙鱼调和油", "五常大米", "海天酱油", "老干妈",
            "双汇火腿肠", "卫龙辣条", "青岛啤酒", "百岁山", "奥利奥饼干", "光明酸奶"]
WEIGHED = ["苹果", "香蕉", "五花肉", "排骨", "西红柿", "黄瓜", "土豆", "草鱼", "鸡蛋", "葡萄",
           "散装花生", "牛肉", "橙子", "大白菜", "散装红枣", "猪里脊"]
COUNT_WORDS = ["个", "件", "瓶", "袋", "盒", "包", "支"]
DISCOUNT_LINES = {"member": ["会员优惠", "会员折扣", "会员价优惠"], "manjian": ["满减", "满100减10"],
                  "coupon": ["优惠券", "代金券抵扣"]}


def fen_text(fen):
    """An amount in fen as receipts print it: 12.50, -5.00."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def decimal_text(value, places):
    """A non-negative Fraction with exactly `places` decimals (it must have no more)."""
    units = value * 10 ** places
    assert units.denominator == 1, (value, places)
    units = units.numerator
    if places == 0:
        return str(units)
    return f"{units // 10 ** places}.{units % 10 ** places:0{places}d}"


def to_fen(value, mode):
    """A positive Fraction of yuan to whole fen: half up, or cut (as some scales do)."""
    hundredths = value * 100
    if mode == "half_up":
        return int((hundredths + Fraction(1, 2)) // 1)
    return int(hundredths // 1)


def money_form(fen, rng, labels=("",)):
    """Money as printed, and what piaoju must read (at least two decimals)."""
    text = fen_text(fen)
    shown = rng.choice([text, text, "¥" + text, "￥" + text, text + "元"])
    return rng.choice(labels) + shown, text


def counted_item(rng, forms, plain=False):
    q = rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6, 10, 12])
    price = rng.randrange(50, 10_000)  # fen
    word = rng.choice(COUNT_WORDS)
    style = rng.randrange(8)
    if plain or style < 3:
        q_text, q_unit = str(q), None
    elif style == 3:
        q_text, q_unit = rng.choice(["x", "X", "×"]) + str(q), None
    elif style == 4:
        q_text, q_unit = f"{q} {word}", word
    else:
        q_text, q_unit = f"{q}{word}", word
    if q_unit:
        forms.add("count_unit")
    p = fen_text(price)
    roll = rng.randrange(20)
    if plain and roll < 4:
        roll = 4
    if roll == 0:
        p_text, p_value, p_unit = "", None, None  # not printed, as on the Juhe example
    elif roll < 4:
        p_text, p_value, p_unit = f"{p}/{word}", p, word
        forms.add("price_unit")
        if q_unit is None:
            q_text, q_unit = f"{q}{word}", word
    else:
        p_value, p_unit = p, None
        shown = p[:-1] if p.endswith("0") and rng.random() < 0.2 else p  # 4.5 for 4.50
        p_text = rng.choice(["", "", "单价:", "单价：", "@", "¥", "￥"]) + shown
        if rng.random() < 0.15:
            p_text = shown + "元"
        if plain:
            p_text = rng.choice(["", "单价:"]) + p
    subtotal = q * price
    return {"product": rng.choice(PRODUCTS), "quantity": q_text, "unit_price": p_text,
            "subtotal_amount": fen_text(subtotal)}, {
        "product": None, "quantity": str(q), "quantity_unit": q_unit, "unit_price": p_value,
        "price_unit": p_unit, "subtotal_amount": fen_text(subtotal)}, subtotal


def weight_in(rng, unit):
    """A weight as a scale prints it: (Fraction, text)."""
    if unit == "kg":
        grams = rng.randrange(50, 5_000)
        return Fraction(grams, 1000), decimal_text(Fraction(grams, 1000), 3)
    if unit == "g":
        grams = rng.randrange(20, 3_000)
        return Fraction(grams), str(grams)
    if unit == "斤":
        hundredths = rng.randrange(10, 1_000)
        places = 1 if hundredths % 10 == 0 else 2
        value = Fraction(hundredths, 100)
        return value, decimal_text(value, places)
    tenths = rng.randrange(5, 100)  # 两
    value = Fraction(tenths, 10)
    return value, decimal_text(value, 0 if tenths % 10 == 0 else 1)


def weighed_item(rng, forms, rounding):
    forms.add("weighed")
    q_unit = rng.choice(["kg", "kg", "斤", "斤", "g", "两"])
    forms.add({"kg": "kg", "斤": "jin", "g": "gram", "两": "liang"}[q_unit])
    p_unit = {"kg": rng.choice(["kg", "kg", "斤"]), "斤": rng.choice(["斤", "斤", "kg"]),
              "g": rng.choice(["kg", "斤", "g"]), "两": rng.choice(["两", "斤"])}[q_unit]
    if p_unit == "g":
        price = Fraction(rng.randrange(5, 200), 1000)  # per gram: 0.058
        p = decimal_text(price, 3)
    else:
        lo, hi = {"kg": (400, 20_000), "斤": (200, 10_000), "两": (100, 3_000)}[p_unit]
        price = Fraction(rng.randrange(lo, hi), 100)
        p = decimal_text(price, 2)
    weight, w = weight_in(rng, q_unit)
    amount = weight * price * Fraction(GRAMS[q_unit], GRAMS[p_unit])
    if amount < Fraction(1, 100):
        weight, w = (Fraction(1), "1") if q_unit != "kg" else (Fraction(1), "1.000")
        amount = weight * price * Fraction(GRAMS[q_unit], GRAMS[p_unit])
    if p_unit != q_unit:
        forms.add("conversion")
    q_word = {"kg": ["kg", "KG", "千克", "公斤"], "斤": ["斤", "斤", "市斤"], "g": ["g", "克"],
              "两": ["两"]}[q_unit]
    q_text, q_shown_unit = w + rng.choice(q_word), q_unit
    if q_unit == p_unit and rng.random() < 0.25:
        q_text, q_shown_unit = w, None  # the unit printed with the price only
    p_word = {"kg": ["kg", "kg", "KG", "公斤"], "斤": ["斤"], "g": ["g"], "两": ["两"]}[p_unit]
    roll = rng.randrange(6)
    if q_shown_unit is not None and q_unit == p_unit and roll == 0:
        p_text, p_shown_unit = rng.choice(["", "单价:", "¥"]) + p, None  # price per the quantity's unit
    else:
        mark = rng.choice(["", "", "¥", "￥"])
        p_text = mark + p + rng.choice(["", "元"] if mark == "" else [""]) + "/" + rng.choice(p_word)
        p_shown_unit = p_unit
        forms.add("price_unit")
    subtotal = to_fen(amount, rounding)
    if amount * 100 != subtotal:
        forms.add(rounding if to_fen(amount, "half_up") != to_fen(amount, "cut") else "rounded")
    quantity = w
    return {"product": rng.choice(WEIGHED), "quantity": q_text, "unit_price": p_text,
            "subtotal_amount": fen_text(subtotal)}, {
        "product": None, "quantity": quantity, "quantity_unit": q_shown_unit,
        "unit_price": p if len(p.split(".")[1]) >= 2 else p + "0", "price_unit": p_shown_unit,
        "subtotal_amount": fen_text(subtotal)}, subtotal


def discount_line(rng, forms, kind, fen):
    """A discount line of `fen` (> 0) as printed, and what piaoju must read."""
    forms.add(kind)
    name = rng.choice(DISCOUNT_LINES[kind])
    roll = rng.randrange(10)
    text = fen_text(fen)
    if roll < 5:
        shown, value = "-" + text, "-" + text
    elif roll == 5:
        shown, value = "-¥" + text, "-" + text
    elif roll == 6:
        shown, value = "￥-" + text, "-" + text
    elif roll == 7:
        shown, value = text + "-", "-" + text
        forms.add("minus_after")
    elif roll == 8:
        shown, value = "－" + text, "-" + text
    else:
        shown, value = text, text  # the minus sign lost: the name says it is a discount
        forms.add("unsigned_discount")
    quantity = rng.choice(["", "", "1"])
    return {"product": name, "quantity": quantity, "unit_price": "", "subtotal_amount": shown}, {
        "product": name, "quantity": quantity or None, "quantity_unit": None, "unit_price": None,
        "price_unit": None, "subtotal_amount": value}


def moling(fen, mode):
    """抹零: the amount rounded down to the jiao or the yuan."""
    if mode == "jiao":
        return fen - fen % 10
    if mode == "yuan":
        return fen - fen % 100
    return fen


def receipt(rng, index, plain=False):
    """A receipt; `plain`: only what piaoju read before weighed goods, units, discounts and 抹零
    (counted goods, plain unit prices, paid amounts and change)."""
    forms = set()
    rounding = rng.choice(["half_up", "half_up", "cut"])
    rows, expected_items, gross = [], [], 0
    weighed_share = 0.0 if plain else rng.choice([0.0, 0.3, 0.6, 1.0])
    for _ in range(rng.randrange(1, 9)):
        if rng.random() < weighed_share:
            row, want, subtotal = weighed_item(rng, forms, rounding)
        else:
            row, want, subtotal = counted_item(rng, forms, plain)
        want["product"] = row["product"]
        rows.append(row)
        expected_items.append(want)
        gross += subtotal
    # Discounts: lines in the table (member, 满减, coupon), and the discount field.
    lines_off = 0
    for kind in ("member", "manjian", "coupon"):
        if not plain and rng.random() < 0.15 and gross - lines_off > 200:
            if kind == "manjian":
                fen = rng.choice([500, 1000, 2000]) if gross - lines_off > 3000 else 100
            else:
                fen = rng.randrange(10, max(11, (gross - lines_off) // 5))
            row, want = discount_line(rng, forms, kind, fen)
            rows.append(row)
            expected_items.append(want)
            lines_off += fen
    items_sum = gross - lines_off
    field_fen, field_text, field_value = 0, "", None
    roll = 1.0 if plain else rng.random()
    if lines_off and roll < 0.3:
        field_fen = lines_off  # the field is the sum of the lines: taken off once
        forms.add("discount_summary")
    elif roll < 0.25 and items_sum > 300:
        field_fen = rng.randrange(10, items_sum // 4)
        if field_fen == lines_off:
            field_fen += 1
        forms.add("discount_field")
    if field_fen:
        text = fen_text(field_fen)
        shown = rng.choice([text, text, "-" + text, "优惠:" + text, "¥" + text])
        field_text, field_value = shown, ("-" + text if shown.startswith("-") else text)
    due = items_sum - (field_fen if "discount_field" in forms else 0)
    mode = "none" if plain else rng.choice(["none", "none", "none", "jiao", "jiao", "yuan"])
    charged = moling(due, mode)
    if charged != due:
        forms.add("moling_" + mode)
    # What the total shows: the amount charged; sometimes the amount before 抹零 (the change
    # shows the rounding), or the items' sum before the discount field.
    total = charged
    pay = rng.randrange(4)
    if charged != due and rng.random() < 0.3:
        total = due
        forms.add("total_before_moling")
        pay = max(pay, 1)
    elif "discount_field" in forms and rng.random() < 0.25:
        total = items_sum
        forms.add("total_before_discount")
        pay = max(pay, 1)
    if pay == 0:
        paid, change = None, None
    elif pay == 1:
        paid, change = charged, 0
        forms.add("exact_paid")
    else:
        step = rng.choice([100, 500, 1000, 2000, 5000, 10000])
        paid = (charged // step + 1) * step
        change = paid - charged
        forms.add("change")
    total_text, total_value = money_form(total, rng, ("", "", "", "合计:", "应付：", "总计:"))
    if plain:
        total_text = total_value
    paid_text, paid_value = ("", None) if paid is None else money_form(paid, rng, ("", "", "实收:"))
    if change is None:
        change_text, change_value = "", None
    elif change == 0 and rng.random() < 0.5 and "total_before_moling" not in forms \
            and "total_before_discount" not in forms:
        change_text, change_value = "", None  # no change printed
    else:
        change_text, change_value = money_form(change, rng, ("", "", "找零:"))
    data = {
        "shop_name": f"测试便利店{index}", "receipt_num": f"NO.{20250000 + index:012d}",
        "machine_num": f"{index % 9 + 1:02d}", "employee_num": f"{index % 97:04d}",
        "consumption_date": "2025-05-22", "consumption_time": f"{8 + index % 12:02d}:{index % 60:02d}",
        "total_amount": total_text, "change": change_text, "currency": "人民币",
        "paid_amount": paid_text, "discount": field_text, "print_date": "", "print_time": "",
        "table_row_num": len(rows), "table": rows,
    }
    answer = {"reason": "成功", "error_code": 0,
              "result": {"orderid": f"JH{index:08d}", "data": data}}
    expect = {"total_amount": total_value, "paid_amount": paid_value, "change": change_value,
              "discount": field_value, "table_row_num": len(rows), "items": expected_items}
    return answer, expect, sorted(forms)


def misread(rng, answer):
    """The answer with one digit of one subtotal or of the total read as another digit."""
    answer = json.loads(json.dumps(answer))
    data = answer["result"]["data"]
    targets = [("total_amount", data)] * max(1, len(data["table"]) // 2)
    targets += [(f"items[{k}].subtotal_amount", row) for k, row in enumerate(data["table"])]
    field, holder = rng.choice(targets)
    key = field.split(".")[-1]
    printed = holder[key]
    spots = [i for i, c in enumerate(printed) if c.isdigit()]
    i = rng.choice(spots)
    digit = rng.choice([d for d in "0123456789" if d != printed[i]])
    holder[key] = printed[:i] + digit + printed[i + 1:]
    return answer, field, printed, holder[key]


def corpus(count=COUNT, seed=SEED, plain=False):
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        answer, expect, forms = receipt(rng, index, plain)
        lines.append({"kind": "receipt", "id": index, "forms": forms, "answer": answer, "expect": expect})
        bad, field, printed, shown = misread(rng, answer)
        lines.append({"kind": "misread", "id": index, "field": field, "printed": printed,
                      "misread": shown, "answer": bad})
    return "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)


def fixed_receipt(shop, items, discount, total, paid, change, orderid):
    """A hand-written receipt answer for the C and README examples (values worked out by hand
    in the comments of fixtures() below)."""
    return json.dumps({"reason": "成功", "error_code": 0, "result": {"orderid": orderid, "data": {
        "shop_name": shop, "receipt_num": "NO.00020250522", "machine_num": "02", "employee_num": "0007",
        "consumption_date": "2025-05-22", "consumption_time": "18:05", "total_amount": total,
        "change": change, "currency": "人民币", "paid_amount": paid, "discount": discount,
        "print_date": "", "print_time": "", "table_row_num": len(items),
        "table": [{"product": p, "quantity": q, "unit_price": u, "subtotal_amount": s}
                  for p, q, u, s in items]}}}, ensure_ascii=False, indent=1) + "\n"


def fixtures():
    # 1.5 斤 × 2.21/斤 = 3.315 → 3.32 (half up); 0.352 kg × 15.80/kg = 5.5616 → 5.56;
    # 352 g × 12.00/斤 = 0.704 斤 × 12.00 = 8.448 → 8.45; 5 × 1.85 = 9.25.
    # Sum 26.58, total 26.50: rounded down by 0.08 to the jiao; paid 50.00, change 23.50.
    assert to_fen(Fraction(3, 2) * Fraction(221, 100), "half_up") == 332
    assert to_fen(Fraction(352, 1000) * Fraction(1580, 100), "half_up") == 556
    assert to_fen(Fraction(352) * 12 / 500, "half_up") == 845
    assert 332 + 556 + 845 + 5 * 185 == 2658
    weighed = fixed_receipt("鲜丰水果生鲜", [
        ("苹果", "1.5斤", "￥2.21/斤", "3.32"),
        ("五花肉", "0.352kg", "15.80/kg", "5.56"),
        ("鸡蛋", "352g", "12.00元/斤", "8.45"),
        ("营养快线", "x5", "单价:1.85", "9.25"),
    ], "", "26.50", "50.00", "23.50", "JH20250522W")
    # 2 袋 × 59.90 = 119.80; 3 件 × 12.50 = 37.50; 会员优惠 -5.00: 152.30; discount field
    # 10.00 (满减): 142.30; total 142.00, rounded down by 0.30 to the yuan; paid 150.00,
    # change 8.00.
    assert 2 * 5990 + 3 * 1250 - 500 - 1000 == 14230
    moling_ = fixed_receipt("好又多超市", [
        ("五常大米", "2袋", "59.90", "119.80"),
        ("伊利纯牛奶", "3件", "¥12.50", "37.50"),
        ("会员优惠", "", "", "-5.00"),
    ], "10.00", "142.00", "150.00", "8.00", "JH20250522M")
    data = corpus().encode("utf-8")
    lines = data.count(b"\n")
    digest = f"{hashlib.sha256(data).hexdigest()}  {lines} lines, {COUNT} receipts, seed {SEED}\n"
    return {"juhe_receipt_weighed.json": weighed, "juhe_receipt_moling.json": moling_,
            "receipt_corpus.sha256": digest}


def main(argv):
    count, seed = COUNT, SEED
    if "--count" in argv:
        count = int(argv[argv.index("--count") + 1])
    if "--seed" in argv:
        seed = int(argv[argv.index("--seed") + 1])
    if "--stdout" in argv:
        sys.stdout.buffer.write(corpus(count, seed, "--plain" in argv).encode("utf-8"))
        return 0
    files = fixtures()
    if "--write" in argv:
        for name, text in files.items():
            with open(os.path.join(FIXTURES, name), "w", encoding="utf-8") as f:
                f.write(text)
        print(f"wrote {', '.join(files)}")
        return 0
    if "--check" in argv:
        for name, text in files.items():
            path = os.path.join(FIXTURES, name)
            try:
                with open(path, encoding="utf-8") as f:
                    committed = f.read()
            except FileNotFoundError:
                committed = None
            if committed != text:
                sys.exit(f"tests/fixtures/{name} differs from scripts/make_receipt_corpus.py "
                         "(run it with --write)")
        print(f"checked {', '.join(files)}")
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
