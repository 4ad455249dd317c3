from decimal import Decimal

import pytest

import piaoju
from piaoju import checks


def test_standalone_checks():
    c = checks.vin("LFV3A28W6K3705006")
    assert isinstance(c, piaoju.Check) and c.status == "pass" and c.passed and c.suggestion is None
    c = checks.vin("LFV3A28W6K37O5006")
    assert c.status == "fail" and c.failed and c.suggestion == "LFV3A28W6K3705006"
    assert checks.resident_id("430124199803279592").status == "pass"
    c = checks.resident_id("430124199B03279592")
    assert c.status == "fail" and c.suggestion == "430124199803279592"
    assert checks.social_credit_code("914301243294121313").status == "pass"
    assert checks.social_credit_code("914301243294121314").status == "fail"
    assert checks.invoice_number("25432000000066482202").status == "pass"
    assert checks.invoice_number("25432000000066482202", "20240101").status == "fail"
    assert checks.plate_number("湘ACC639").status == "pass"
    assert checks.plate_number("湘ACC6").status == "fail"
    assert checks.party_id("12345").status == "skipped"
    assert checks.issue_date("2999-01-01").status == "fail"


def test_amount_in_words():
    assert checks.amount_in_words("壹万圆整") == Decimal("10000.00")
    assert checks.amount_in_words("人民币壹拾万柒仟元零伍角叁分") == Decimal("107000.53")
    assert checks.amount_in_words("陆仟零柒元壹角肆分") == Decimal("6007.14")
    for bad in ["", "一万元", "壹万贰圆整", "10000"]:
        with pytest.raises(ValueError) as e:
            checks.amount_in_words(bad)
        assert isinstance(e.value, piaoju.PiaojuError) and e.value.code == 100
    with pytest.raises(piaoju.UsageError):
        checks.amount_in_words(10000)  # type: ignore[arg-type]


def test_checks_on_results_are_objects(sandbox, fixtures):
    inv = sandbox.client().recognize_used_car_invoice(fixtures / "invoice.png")
    by_name = {c.name: c for c in inv.checks}
    assert by_name["total_price_in_words"].status == "pass"
    assert by_name["total_price_in_words"].fields == ("total_price_in_words", "total_price")
    assert by_name["dealer_tax_id"].status == "skipped"
    assert inv.checks_passed and inv.failed_checks == ()
    sandbox.register_answer(
        fixtures / "invoice.pdf",
        '{"PageInfo":[{"ErrorCode":0,"Result":[{"ErrorCode":0,"ResultList":[{"ocr_error_code":0,'
        '"type":"电子发票(二手车销售统一发票)","FieldList":['
        '{"key":"CJHM","chn_key":"车架号码","value":"LFV3A28W6K37O5006"},'
        '{"key":"CJHJ","chn_key":"车价合计小写","value":"10000.00"},'
        '{"key":"CJHJDX","chn_key":"车价合计大写","value":"壹万贰仟圆整"}]}]}]}],"ErrorCode":0,"SerialId":"1"}',
    )
    bad = sandbox.client().recognize_used_car_invoice(fixtures / "invoice.pdf")
    assert not bad.checks_passed
    assert sorted(c.name for c in bad.failed_checks) == ["total_price_in_words", "vin"]
    vin = next(c for c in bad.checks if c.name == "vin")
    assert vin.suggestion == "LFV3A28W6K3705006" and bad.vin == "LFV3A28W6K37O5006"
    r = sandbox.client().recognize_shopping_receipt(fixtures / "receipt.png")
    assert r.checks_passed and all(isinstance(c, piaoju.Check) for c in r.checks)


def test_real_ocr_text_reads_without_false_alarms(sandbox, fixtures):
    """The sandbox's ocr-variants answers: a misread total and unit price, and the amount in
    words as tax-control printers print it (traditional, marked, with the figure after it)."""
    client = sandbox.client(faults="ocr-variants")
    r = client.recognize_shopping_receipt(fixtures / "receipt.png")
    assert r.total_amount is None, "12,50 is never read as 1250"
    assert r.items[0].unit_price is None
    flagged = {c.fields[0]: c for c in r.checks if c.name == "value_unreadable"}
    assert set(flagged) == {"total_amount", "items[0].unit_price"}
    total = flagged["total_amount"]
    assert total.status == "fail" and total.suggestion == "12.50"
    assert '"12,50"' in total.message and "agree" in total.message and "disagrees" not in total.message
    assert flagged["items[0].unit_price"].suggestion == "4.50"
    assert r.to_dict()["raw"]["data"]["total_amount"] == "12,50", "the raw text stays"

    inv = client.recognize_used_car_invoice(fixtures / "invoice.png")
    assert inv.total_price_in_words == "⊗人民币：壹萬圓整（小写）¥10000.00"
    assert [c.status for c in inv.checks if c.name == "total_price_in_words"] == ["pass"]
    assert inv.checks_passed


def test_amounts_in_words_as_printed():
    assert piaoju.checks.amount_in_words("⊗人民币：壹萬圓整（小写）¥10000.00") == Decimal("10000.00")
    assert piaoju.checks.amount_in_words("貳仟零伍拾元整") == Decimal("2050.00")
    with pytest.raises(piaoju.UsageError, match="figure"):
        piaoju.checks.amount_in_words("壹万圆整（小写）¥10001.00")
