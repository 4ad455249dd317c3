import datetime
import io
import json
import pathlib
import pickle
import sys
from decimal import Decimal

import pytest

import piaoju
from piaoju import _native

from conftest import ROOT


def test_receipt_values(sandbox, fixtures):
    r = sandbox.client().recognize_shopping_receipt(fixtures / "receipt.png")
    assert isinstance(r, piaoju.ShoppingReceipt)
    assert r.document_type == "shopping_receipt"
    assert r.provider == "juhe"
    assert r.order_id == "JH1241217171601ZDomp"
    assert r.shop_name == "多又好超市"
    assert r.receipt_num == "NO.01202011196374"
    assert r.consumption_date == datetime.date(2020, 11, 19)
    assert r.consumption_time == datetime.time(17, 23)
    assert r.total_amount == Decimal("12.50") and isinstance(r.total_amount, Decimal)
    assert str(r.total_amount) == "12.50"
    assert r.paid_amount == Decimal("12.50")
    assert r.change is None and r.discount is None and r.print_date is None
    assert r.currency == "人民币"
    assert r.table_row_num == 4
    assert [i.product for i in r.items] == ["500g营养快线", "30g良兴魔芋素毛肚", "45g乡巴佬小腿王", "乡巴佬吉利蛋"]
    first = r.items[0]
    assert (first.quantity, first.unit_price, first.subtotal_amount) == (Decimal("2"), Decimal("4.50"), Decimal("9.00"))
    assert r.items[1].unit_price is None
    assert r.raw["data"]["table"][0]["unit_price"] == "单价:4.50"
    assert r.checks_passed is True
    assert {c.name for c in r.checks} >= {"items_sum_to_total", "item_amount", "change", "table_row_num", "dates_valid"}


def test_invoice_values(sandbox, fixtures):
    inv = sandbox.client().recognize_used_car_invoice(fixtures / "invoice.png")
    assert isinstance(inv, piaoju.UsedCarInvoice)
    assert inv.serial_id == "1748324975778851906"
    assert inv.invoice_number == "25432000000066482202"
    assert inv.issue_date == datetime.date(2025, 5, 22)
    assert inv.buyer_name == "张锦达"
    assert inv.buyer_id == "430124199803279592"
    assert inv.vin == "LFV3A28W6K3705006"
    assert inv.total_price == Decimal("10000.00")
    assert inv.total_price_in_words == "壹万圆整"
    assert inv.market_tax_id == "914301243294121313"
    assert inv.plate_number == "湘ACC639"
    assert inv.invoice_code is None and inv.remarks is None and inv.has_seal is None
    assert len(inv.fields) == 36
    assert (inv.fields[0].key, inv.fields[0].chn_key, inv.fields[0].value) == ("FPHM", "发票号码", "25432000000066482202")
    assert inv.fields[0].quad == (0, 0, 0, 0, 0, 0, 0, 0)
    assert inv.checks_passed
    assert [c.status for c in inv.checks if c.name == "vin"] == ["pass"]


def test_every_image_input_kind(sandbox, fixtures):
    client = sandbox.client()
    path = fixtures / "receipt.png"
    data = path.read_bytes()
    with open(path, "rb") as f:
        inputs = [str(path), path, data, bytearray(data), memoryview(data), io.BytesIO(data), f]
        for image in inputs:
            r = client.recognize_shopping_receipt(image)
            assert r.total_amount == Decimal("12.50"), type(image)
    assert sandbox.stats()["juhe_requests"] == len(inputs)


def test_bad_image_arguments_are_typed_errors(sandbox, fixtures):
    client = sandbox.client()
    with pytest.raises(piaoju.UsageError) as e:
        client.recognize_shopping_receipt(12345)
    assert e.value.code == 100 and "int" in str(e.value)
    with open(fixtures / "receipt.png", encoding="latin-1") as text_file:
        with pytest.raises(piaoju.UsageError, match="binary mode"):
            client.recognize_shopping_receipt(text_file)
    with pytest.raises(piaoju.ImageError) as e:
        client.recognize_shopping_receipt(fixtures / "too_small.png")
    assert e.value.name == "image_too_small" and "15 px" in e.value.message
    with pytest.raises(piaoju.ImageError) as e:
        client.recognize_used_car_invoice(b"")
    assert e.value.code == 200
    with pytest.raises(piaoju.ImageError) as e:
        client.recognize_shopping_receipt(fixtures / "missing.png")
    assert e.value.code == 201
    assert sandbox.stats()["juhe_requests"] == 0


def test_to_dict_and_to_json_are_the_core_schema(sandbox, fixtures):
    r = sandbox.client().recognize_shopping_receipt(fixtures / "receipt.png")
    d = r.to_dict()
    assert json.loads(r.to_json()) == d
    assert list(json.loads(r.to_json()))[:4] == ["document_type", "provider", "order_id", "shop_name"]
    assert d["total_amount"] == "12.50" and d["items"][0]["unit_price"] == "4.50"
    d["total_amount"] = "changed"
    assert r.to_dict()["total_amount"] == "12.50", "to_dict returns a copy"
    # The same schema as the C ABI's one-shot call.
    request = {"config": sandbox.config(), "operation": "shopping_receipt", "image_path": str(fixtures / "receipt.png")}
    out = json.loads(_native.call_json(json.dumps(request)))
    assert out["ok"] is True and out["result"] == r.to_dict()


def test_results_pickle_and_compare(sandbox, fixtures):
    client = sandbox.client()
    r = client.recognize_shopping_receipt(fixtures / "receipt.png")
    inv = client.recognize_used_car_invoice(fixtures / "invoice.pdf")
    for doc in (r, inv, r.items[0], inv.fields[3], inv.checks[0]):
        again = pickle.loads(pickle.dumps(doc))
        assert again == doc and type(again) is type(doc)
        assert again.to_json() == doc.to_json()
    assert pickle.loads(pickle.dumps(inv)).total_price == Decimal("10000.00")
    assert r != inv


def test_reprs_are_readable(sandbox, fixtures):
    client = sandbox.client()
    r = client.recognize_shopping_receipt(fixtures / "receipt.png")
    assert repr(r) == (
        "ShoppingReceipt(shop_name='多又好超市', total_amount=Decimal('12.50'), "
        "consumption_date=datetime.date(2020, 11, 19), order_id='JH1241217171601ZDomp', checks_passed=True)"
    )
    inv = client.recognize_used_car_invoice(fixtures / "invoice.png")
    assert "vin='LFV3A28W6K3705006'" in repr(inv)
    assert repr(inv.checks[1]).startswith("Check(name='vin', status='pass'")


def test_invoice_attributes_are_the_core_field_table():
    schema = dict(_native.schema())
    names = [name for name, _kind, _nullable in schema["UsedCarInvoice"]]
    # 35 value fields; type, provider, serial, seal, fields, image, attempts, cached, cache_error,
    # checks, raw
    assert len(names) == 35 + 11
    inv = piaoju.UsedCarInvoice({})
    for name in names:
        assert hasattr(inv, name), name
    assert inv.total_price is None and inv.fields == () and inv.checks == ()


def test_type_stubs_are_generated_from_the_core_schema():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_model_stubs
    finally:
        sys.path.pop(0)
    committed = (ROOT / "python" / "piaoju" / "_models.pyi").read_text(encoding="utf-8")
    assert gen_model_stubs.render(_native.schema()) == committed, "run: python scripts/gen_model_stubs.py --write"


def test_results_are_immutable_and_agree_with_their_json(sandbox, fixtures):
    r = sandbox.client().recognize_shopping_receipt(fixtures / "receipt.png")
    with pytest.raises(AttributeError, match="immutable"):
        r.total_amount = Decimal("1")
    with pytest.raises(AttributeError, match="immutable"):
        del r.shop_name
    with pytest.raises(AttributeError):
        r.items[0].product = "x"
    with pytest.raises(TypeError):
        r.raw["data"]["shop_name"] = "x"  # read-only mapping
    with pytest.raises(AttributeError):
        r.items.append(r.items[0])  # a tuple
    assert r.total_amount == Decimal("12.50") and r.to_dict()["total_amount"] == "12.50"
    again = piaoju.ShoppingReceipt(r.to_dict())
    assert again == r and hash(again) == hash(r)
    assert len({r, again}) == 1
    other = sandbox.client().recognize_used_car_invoice(fixtures / "invoice.png")
    assert other != r


def test_client_constructors(sandbox, fixtures, monkeypatch):
    kw = dict(juhe_key=sandbox.juhe_key, juhe_base_url=sandbox.url,
              chinaums_app_id=sandbox.chinaums_app_id, chinaums_app_key=sandbox.chinaums_app_key,
              chinaums_base_url=sandbox.url, chinaums_auth="body_signature", timeout=5, connect_timeout=1.5)
    client = piaoju.Client(**kw)
    assert client.recognize_used_car_invoice(fixtures / "invoice.png").vin == "LFV3A28W6K3705006"
    assert sandbox.stats()["tokens_issued"] == 0, "body-signature mode needs no token"

    monkeypatch.setenv("PIAOJU_JUHE_KEY", sandbox.juhe_key)
    monkeypatch.setenv("PIAOJU_JUHE_BASE_URL", sandbox.url)
    assert piaoju.Client.from_env().recognize_shopping_receipt(fixtures / "receipt.png").shop_name == "多又好超市"
    monkeypatch.setenv("PIAOJU_TIMEOUT_MS", "soon")
    with pytest.raises(piaoju.ConfigError) as e:
        piaoju.Client.from_env()
    assert e.value.code == 101 and "PIAOJU_TIMEOUT_MS" in str(e.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: piaoju.Client.from_config({"juhe": {"kye": "x"}}),
        lambda: piaoju.Client.from_config({"timeout_ms": "5"}),
        lambda: piaoju.Client.from_config({"chinaums": {"environment": "prod"}}),
        lambda: piaoju.Client.from_config({"juhe": {"base_url": "apis.juhe.cn"}}),
        lambda: piaoju.Client.from_config({"proxy": object()}),
        lambda: piaoju.Client.from_config(["not", "a", "mapping"]),
        lambda: piaoju.Client(timeout="fast"),
        lambda: piaoju.Client(timeout=-1),
        lambda: piaoju.Client(chinaums_auth="token"),
    ],
)
def test_bad_configuration_is_a_config_error(make):
    with pytest.raises(piaoju.ConfigError) as e:
        make()
    assert e.value.code == 101
    assert isinstance(e.value, ValueError)


def test_missing_credentials(fixtures, monkeypatch):
    # An explicit (empty) configuration never falls back to the environment.
    monkeypatch.setenv("PIAOJU_JUHE_KEY", "from-the-environment")
    for client in (piaoju.Client(), piaoju.Client.from_config({})):
        with pytest.raises(piaoju.ConfigError) as e:
            client.recognize_shopping_receipt(fixtures / "receipt.png")
        assert e.value.code == 102 and "PIAOJU_JUHE_KEY" in str(e.value)


def test_no_secret_in_repr_or_errors(sandbox, fixtures):
    client = piaoju.Client(juhe_key="JUHE-SECRET-KEY", juhe_base_url=sandbox.url,
                           chinaums_app_id="sandbox-app-id", chinaums_app_key="UMS-SECRET-KEY",
                           chinaums_base_url=sandbox.url, proxy=None)
    text = repr(client)
    assert "JUHE-SECRET-KEY" not in text and "UMS-SECRET-KEY" not in text and "juhe_key='***'" in text
    with pytest.raises(piaoju.AuthError) as e:
        client.recognize_shopping_receipt(fixtures / "receipt.png")
    with pytest.raises(piaoju.AuthError) as e2:
        client.recognize_used_car_invoice(fixtures / "invoice.png")
    for err in (e.value, e2.value):
        for shown in (str(err), repr(err), json.dumps(err.to_dict(), ensure_ascii=False), repr(err.args)):
            assert "JUHE-SECRET-KEY" not in shown and "UMS-SECRET-KEY" not in shown
    # A client pickles as its configuration (credentials included, as documented) and its
    # repr stays redacted after the round trip.
    again = pickle.loads(pickle.dumps(client))
    assert "JUHE-SECRET-KEY" not in repr(again) and repr(again) == text


def test_paths_as_pathlike(sandbox, fixtures):
    class Custom:
        def __fspath__(self):
            return str(fixtures / "receipt.jpg")

    assert sandbox.client().recognize_shopping_receipt(Custom()).total_amount == Decimal("12.50")
    assert isinstance(fixtures, pathlib.Path)


def _bmp(width, height):
    import struct

    row = (width * 3 + 3) // 4 * 4
    header = b"BM" + struct.pack("<IHHIIiiHHIIiiII", 54 + row * height, 0, 0, 54, 40, width, height,
                                 1, 24, 0, row * height, 2835, 2835, 0, 0)
    return header + bytes(range(256)) * (row * height // 256) + bytes(row * height % 256)


def test_an_over_limit_scan_is_fitted(sandbox):
    scan = _bmp(5000, 3000)  # 45 MB: over Juhe's 6 MB of base64 and 4096 px
    r = sandbox.client().recognize_shopping_receipt(scan)
    assert r.shop_name == "多又好超市"
    image = r.image
    assert image["fitted"] is True and image["quality"] in (92, 85, 75, 65)
    assert image["original"] == {"format": "bmp", "width": 5000, "height": 3000, "bytes": len(scan)}
    sent = image["sent"]
    assert sent["format"] == "jpeg" and max(sent["width"], sent["height"]) <= 4096
    assert (sent["bytes"] + 2) // 3 * 4 <= 6 * 1024 * 1024
    with pytest.raises(piaoju.ImageError) as e:
        piaoju.Client.from_config({**sandbox.config(), "image_fit": "off"}).recognize_shopping_receipt(scan)
    assert e.value.name == "image_too_large"
    with pytest.raises(piaoju.ImageError) as e:
        piaoju.Client(juhe_key=sandbox.juhe_key, juhe_base_url=sandbox.url, image_fit="off").recognize_shopping_receipt(scan)
    assert e.value.name == "image_too_large"
