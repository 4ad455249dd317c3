import pickle

import pytest

import piaoju
from piaoju import _native

BAND_CLASS = {
    "usage": piaoju.UsageError,
    "image": piaoju.ImageError,
    "transport": piaoju.NetworkError,
    "auth": piaoju.AuthError,
    "quota": piaoju.QuotaError,
    "service": piaoju.ServiceError,
    "recognition": piaoju.RecognitionError,
    "response": piaoju.ResponseError,
    "internal": piaoju.InternalError,
}


def test_every_code_of_the_catalogue_lands_on_its_class():
    catalogue = _native.error_catalogue()
    assert len(catalogue) == 48
    seen_bands = set()
    for code, name, band, retryable in catalogue:
        assert code // 100 == list(BAND_CLASS).index(band) + 1, (code, band)
        with pytest.raises(piaoju.PiaojuError) as e:
            _native.raise_error(code, "message")
        err = e.value
        assert isinstance(err, BAND_CLASS[band]), (code, type(err))
        assert (err.code, err.name, err.band, err.retryable) == (code, name, band, retryable)
        if band in ("usage", "image"):
            assert isinstance(err, ValueError)
        if band == "transport":
            assert isinstance(err, ConnectionError)
        assert isinstance(err, TimeoutError) == (name == "timeout")
        assert isinstance(err, piaoju.ConfigError) == (name in ("invalid_config", "missing_credentials"))
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is type(err)
        assert (again.code, again.name, again.message, again.retryable) == (err.code, err.name, err.message, err.retryable)
        seen_bands.add(band)
    assert seen_bands == set(BAND_CLASS)
    with pytest.raises(ValueError):
        _native.raise_error(0, "ok is not an error")


@pytest.mark.parametrize(
    "faults, document, cls, code",
    [
        ("juhe=10001", "receipt", piaoju.AuthError, 400),
        ("juhe=10012", "receipt", piaoju.QuotaError, 501),
        ("juhe=10011", "receipt", piaoju.QuotaError, 500),
        ("juhe=10020", "receipt", piaoju.ServiceError, 601),
        ("juhe=223701", "receipt", piaoju.ServiceError, 604),
        ("answer=3", "invoice", piaoju.RecognitionError, 700),
        ("answer=16", "invoice", piaoju.RecognitionError, 704),
        ("answer=1", "invoice", piaoju.ServiceError, 605),
        ("token=1000", "invoice", piaoju.AuthError, 410),
        ("reject-tokens", "invoice", piaoju.AuthError, 411),
        ("http500", "receipt", piaoju.ServiceError, 603),
        ("http503", "invoice", piaoju.ServiceError, 603),
        ("malformed", "invoice", piaoju.ResponseError, 800),
        ("truncated", "receipt", piaoju.NetworkError, 303),
        ("close", "invoice", piaoju.NetworkError, 303),
    ],
)
def test_sandbox_faults_raise_typed_errors(sandbox, fixtures, faults, document, cls, code):
    client = sandbox.client(faults=faults)
    with pytest.raises(cls) as e:
        if document == "receipt":
            client.recognize_shopping_receipt(fixtures / "receipt.png")
        else:
            client.recognize_used_car_invoice(fixtures / "invoice.png")
    err = e.value
    assert err.code == code, str(err)
    if faults.startswith("juhe="):
        assert err.provider == "juhe" and err.provider_code == faults.split("=")[1]
        assert err.provider_message
    if faults.startswith("http5"):
        assert err.http_status == int(faults[4:]) and err.retryable


def test_timeout_is_a_timeout_error(sandbox, fixtures):
    client = sandbox.client(faults="delay=3000", timeout=0.3)
    with pytest.raises(TimeoutError) as e:
        client.recognize_shopping_receipt(fixtures / "receipt.png")
    assert isinstance(e.value, piaoju.Timeout) and isinstance(e.value, ConnectionError)
    assert e.value.code == 301 and e.value.retryable


def test_connection_refused(fixtures):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    client = piaoju.Client(juhe_key="k", juhe_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionError) as e:
        client.recognize_shopping_receipt(fixtures / "receipt.png")
    assert e.value.code == 300


def test_str_and_to_dict(sandbox, fixtures):
    with pytest.raises(piaoju.QuotaError) as e:
        sandbox.client(faults="juhe=10012").recognize_shopping_receipt(fixtures / "receipt.png")
    hint = ("the key's request quota is used up: buy more calls in your Juhe account or wait until "
            "it renews (nothing was retried)")
    # Said once: the message has the provider's code and text, the hint what to do.
    assert str(e.value) == f"[501 quota_exceeded] Juhe error 10012: 请求超过次数限制 (hint: {hint})"
    assert e.value.hint == hint
    assert e.value.to_dict() == {
        "code": 501,
        "name": "quota_exceeded",
        "band": "quota",
        "message": "Juhe error 10012: 请求超过次数限制",
        "hint": hint,
        "provider": "juhe",
        "provider_code": "10012",
        "provider_message": "请求超过次数限制",
        "http_status": 200,
        "retryable": False,
        "attempts": 1,
        "possibly_billed": False,
        "cached": False,
        "os_error": None,
    }


def test_an_os_error_is_english_with_its_number(fixtures, tmp_path):
    missing = tmp_path / "不存在.png"
    with pytest.raises(piaoju.ImageError) as e:
        piaoju.Client(juhe_key="k").recognize_shopping_receipt(missing)
    assert e.value.os_error == 2
    assert "no such file or directory (ENOENT: os error 2)" in e.value.message
    assert str(missing) in e.value.message
    assert e.value.to_dict()["os_error"] == 2
    assert pickle.loads(pickle.dumps(e.value)).os_error == 2


def test_call_json_ignores_a_bom_and_answers_ascii_when_asked(sandbox, fixtures):
    import json

    config = json.loads(json.dumps(sandbox.config()))
    request = {"config": config, "operation": "shopping_receipt", "image_path": str(fixtures / "receipt.png")}
    plain = _native.call_json("\ufeff" + json.dumps(request))
    assert json.loads(plain)["ok"] is True
    assert "多又好超市" in plain
    request["config"]["ascii_json"] = True
    ascii_text = _native.call_json(json.dumps(request))
    assert ascii_text.isascii() and "\\u591a\\u53c8" in ascii_text
    assert json.loads(ascii_text) == json.loads(plain)
