#!/usr/bin/env python3
"""Make tests/fixtures/ocr_corpus.jsonl: OCR text as real receipts and invoices print it, with
the values an independent implementation (this script) says it holds.

    python3 scripts/make_ocr_corpus.py [--check]

Deterministic (seeded). --check regenerates in memory and fails if the committed corpus
differs. Lines are JSON objects of four kinds:

- {"kind": "words", "text", "amount"}: Chinese uppercase money in every printed form
  (simplified and traditional, 元/圆, 整/正, printer marks, 人民币/大写 prefixes with or without a
  colon, optional 零, a trailing (小写) figure); "amount" is null when the text must be refused
  (a figure that disagrees, ambiguous words).
- {"kind": "money", "text", "value", "suggestion"}: money text; "value" null when it is no
  number, "suggestion" the one reading a common OCR confusion gives (or null).
- {"kind": "receipt", "answer", "unreadable"}: a Juhe answer whose arithmetic agrees; with
  "unreadable" {"field", "suggestion"} when one of its amounts carries one OCR confusion.
- {"kind": "invoice", "words", "total", "suggestion"}: the 大写 and 小写 of a used-car invoice.
"""
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "ocr_corpus.jsonl")

DIGITS = "零壹贰叁肆伍陆柒捌玖"
TRADITIONAL = {"万": "萬", "亿": "億", "圆": "圓", "贰": "貳", "叁": "參", "陆": "陸"}


def section(n):
    """A number below 10000 in words, zeros collapsed, no leading or trailing 零."""
    out, zero = [], False
    for unit, value in (("仟", 1000), ("佰", 100), ("拾", 10), ("", 1)):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[d] + unit)
    return "".join(out)


def yuan_words(n, drop_optional_zero=False):
    """The yuan part in words (n > 0), standard form: 零 marks a gap between sections."""
    parts = []
    sections = [(n // 10**8, "亿"), (n // 10**4 % 10**4, "万"), (n % 10**4, "")]
    higher = False
    gap = False
    for value, unit in sections:
        if value == 0:
            gap = gap or higher
            continue
        if higher and (gap or value < 1000):
            # 零 is optional only where the higher section's last digit is 0 and this section
            # starts at 仟 (PROTOCOLS.md §3); elsewhere it is required.
            if not (drop_optional_zero and not gap and value >= 1000):
                parts.append("零")
        parts.append(section(value) + unit)
        higher, gap = True, False
    return "".join(parts)


def words(fen, rng):
    """(text, ok) for an amount in fen, in a random printed form."""
    yuan, jiao, f = fen // 100, fen // 10 % 10, fen % 10
    text = ""
    if yuan:
        text = yuan_words(yuan) + rng.choice("元圆")
    if jiao:
        if yuan and yuan % 10 == 0 and rng.random() < 0.5:
            text += "零"  # optional where the 元 digit is 0
        text += DIGITS[jiao] + "角"
    if f:
        if jiao == 0 and yuan:
            text += "零"
        text += DIGITS[f] + "分"
    if f == 0:
        text += rng.choice("整正")
    if rng.random() < 0.4:
        text = "".join(TRADITIONAL.get(c, c) for c in text)
    prefix = rng.choice(["", "", "人民币", "人民币：", "人民币:", "（大写）", "大写：", "人民币 "])
    mark = rng.choice(["", "", "⊗", "ⓧ", "×"])
    return mark + prefix + text


def figure(fen, rng):
    number = f"{fen // 100}.{fen % 100:02d}"
    if fen // 100 >= 1000 and rng.random() < 0.3:
        number = f"{fen // 100:,}.{fen % 100:02d}"
    return rng.choice(["（小写）¥", "(小写)¥", "（小写）￥", "¥", "（小写）"]) + number


def amount_text(fen):
    return f"{fen // 100}.{fen % 100:02d}"


def random_fen(rng):
    scale = rng.choice([100, 10_000, 1_000_000, 100_000_000, 10**10, 10**12])
    fen = rng.randrange(1, scale)
    if rng.random() < 0.3 and fen >= 100:
        fen -= fen % 100  # whole yuan
    return fen


def words_cases(rng, n):
    for _ in range(n):
        fen = random_fen(rng)
        text = words(fen, rng)
        roll = rng.random()
        if roll < 0.25:
            yield {"kind": "words", "text": text + figure(fen, rng), "amount": amount_text(fen)}
        elif roll < 0.30:
            wrong = fen + rng.choice([1, 100, 10_000])
            yield {"kind": "words", "text": text + figure(wrong, rng), "amount": None}
        else:
            yield {"kind": "words", "text": text, "amount": amount_text(fen)}
    # The forms real invoices print, as the issue lists them.
    for text, amount in [("壹萬圓整", "10000.00"), ("陸佰元整", "600.00"), ("貳仟零伍拾元整", "2050.00"),
                         ("壹億圓整", "100000000.00"), ("人民币：壹万圆整", "10000.00"),
                         ("人民币:壹万圆整", "10000.00"), ("⊗壹万圆整", "10000.00"), ("ⓧ壹万圆整", "10000.00"),
                         ("×壹万圆整", "10000.00"), ("壹万圆整（小写）¥10000.00", "10000.00"),
                         ("⊗人民币：壹萬圓整(小写)¥10,000.00", "10000.00"), ("壹万圆整（小写）¥10001.00", None)]:
        yield {"kind": "words", "text": text, "amount": amount}
    # Refused, never guessed: a gap without 零, a unit out of order, a stray character.
    for bad in ["壹佰伍元整", "壹万贰元整", "壹拾佰元整", "壹万圆整壹万圆整", "圆整", "壹萬圓X整", "⊗⊗", "人民币："]:
        yield {"kind": "words", "text": bad, "amount": None}


CONFUSE = {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z", ".": ","}
CONFUSE_MORE = {"0": "o", "1": "I"}


def confused(text, rng):
    """The text with one character OCR commonly misreads, or None if it has none."""
    spots = [i for i, c in enumerate(text) if c in CONFUSE]
    if not spots:
        return None
    i = rng.choice(spots)
    table = CONFUSE_MORE if text[i] in CONFUSE_MORE and rng.random() < 0.3 else CONFUSE
    return text[:i] + table[text[i]] + text[i + 1:]


def money_cases(rng, n):
    for _ in range(n):
        fen = rng.randrange(1, 10**9)
        plain = amount_text(fen)
        grouped = f"{fen // 100:,}.{fen % 100:02d}"
        shown = rng.choice([plain, grouped, "¥" + plain, "￥" + grouped, plain + "元", "单价:" + plain])
        yield {"kind": "money", "text": shown, "value": plain, "suggestion": None}
        bad = confused(shown, rng)
        if bad is not None and bad != shown:
            yield {"kind": "money", "text": bad, "value": None, "suggestion": plain}
    for text, suggestion in [("12,50", "12.50"), ("12.5O", "12.50"), ("l2.50", "12.50"),
                             ("1O.O0", None), ("12,5O", None), ("1,23,456.00", None)]:
        yield {"kind": "money", "text": text, "value": None, "suggestion": suggestion}


def receipt(rng, index):
    items, total = [], 0
    for _ in range(rng.randrange(1, 6)):
        q = rng.randrange(1, 6)
        p = rng.randrange(50, 20_000)
        items.append((q, p, q * p))
        total += q * p
    paid = total + rng.choice([0, 0, rng.randrange(1, 10_000)])
    change = paid - total
    data = {
        "shop_name": f"测试超市{index}", "receipt_num": f"NO.{index:08d}", "machine_num": "01",
        "employee_num": "0001", "consumption_date": "2025-05-22", "consumption_time": "17:23",
        "total_amount": amount_text(total), "change": amount_text(change) if change else "",
        "currency": "人民币", "paid_amount": amount_text(paid), "discount": "",
        "print_date": "", "print_time": "", "table_row_num": len(items),
        "table": [{"product": f"商品{k}", "quantity": str(q),
                   "unit_price": rng.choice(["", "单价:"]) + amount_text(p),
                   "subtotal_amount": amount_text(s)} for k, (q, p, s) in enumerate(items)],
    }
    answer = {"reason": "成功", "error_code": 0, "result": {"orderid": f"JH{index:06d}", "data": data}}
    return answer, {"total_amount": total, "paid_amount": paid, "change": change}, items


def receipt_cases(rng, n):
    for index in range(n):
        answer, sums, items = receipt(rng, index)
        yield {"kind": "receipt", "answer": answer, "unreadable": None}
        # The same receipt with one amount misread.
        answer, sums, items = receipt(rng, index + n)
        data = answer["result"]["data"]
        choices = [("total_amount", data), ("paid_amount", data)]
        if data["change"]:
            choices.append(("change", data))
        for k, row in enumerate(data["table"]):
            choices.append((f"items[{k}].subtotal_amount", row))
            choices.append((f"items[{k}].unit_price", row))
        field, holder = rng.choice(choices)
        key = field.split(".")[-1]
        original = holder[key]
        bad = confused(original, rng)
        if bad is None or bad == original:
            continue
        holder[key] = bad
        suggestion = original.split(":")[-1]
        yield {"kind": "receipt", "answer": answer,
               "unreadable": {"field": field, "text": bad, "suggestion": suggestion}}


def invoice_cases(rng, n):
    for _ in range(n):
        fen = random_fen(rng) // 100 * 100 or 100
        total = amount_text(fen)
        shown = words(fen, rng) + (figure(fen, rng) if rng.random() < 0.4 else "")
        yield {"kind": "invoice", "words": shown, "total": total, "suggestion": None}
        bad = confused(total, rng)
        if bad is not None and bad != total:
            yield {"kind": "invoice", "words": shown, "total": bad, "suggestion": total}


def corpus():
    rng = random.Random(20261124)
    lines = []
    for gen in (words_cases(rng, 800), money_cases(rng, 200), receipt_cases(rng, 80), invoice_cases(rng, 100)):
        lines.extend(json.dumps(case, ensure_ascii=False, separators=(",", ":")) for case in gen)
    return ("\n".join(lines) + "\n").encode("utf-8")


def main():
    data = corpus()
    count = data.count(b"\n")
    if "--check" in sys.argv[1:]:
        with open(OUT, "rb") as f:
            if f.read() != data:
                sys.exit("tests/fixtures/ocr_corpus.jsonl differs from scripts/make_ocr_corpus.py")
        print(f"checked {count} corpus lines in {OUT}")
    else:
        with open(OUT, "wb") as f:
            f.write(data)
        print(f"wrote {count} corpus lines to {OUT}")


if __name__ == "__main__":
    main()
