"""No secret in any message (tests/secret_cases.tsv, also run by the Rust, C and CLI suites):
neither the exception (str, repr, to_dict, pickle, args) nor the client's repr, nor the
one-shot call's JSON, holds "SENTINEL"."""

import json
import pickle

import pytest

import piaoju
from piaoju import _native

from conftest import ROOT


def cases():
    lines = (ROOT / "tests" / "secret_cases.tsv").read_text(encoding="utf-8").splitlines()
    return [pytest.param(*line.split("\t"), id=line.split("\t")[0])
            for line in lines if line and not line.startswith("#")]


def test_there_are_cases():
    assert len(cases()) == 12


@pytest.mark.parametrize("name, operation, config, expected", cases())
def test_no_error_path_shows_a_secret(sandbox, fixtures, name, operation, config, expected):
    config = json.loads(config.replace("{url}", sandbox.url))
    image = fixtures / ("receipt.png" if operation == "shopping_receipt" else "invoice.png")
    shown = []
    with pytest.raises(piaoju.PiaojuError) as e:
        client = piaoju.Client.from_config(config)
        shown.append(repr(client))
        getattr(client, f"recognize_{operation}")(image)
    err = e.value
    assert err.name == expected
    shown += [str(err), repr(err), repr(err.args), json.dumps(err.to_dict(), ensure_ascii=False),
              pickle.dumps(err).decode("latin-1")]
    out = _native.call_json(json.dumps({"config": config, "operation": operation, "image_path": str(image)}))
    assert json.loads(out)["error"]["name"] == expected
    shown.append(out)
    for text in shown:
        assert "SENTINEL" not in text, text


def test_a_clients_repr_shows_secrets_as_stars(monkeypatch):
    """Every secret a keyword can carry (the keys, a URL's password) is '***' in the repr of
    a client however it was made: keywords, a dict, the environment, with_options, a pickle,
    the async client."""
    kw = dict(juhe_key="SENTINEL-JUHE", chinaums_app_id="app", chinaums_app_key="SENTINEL-UMS",
              juhe_base_url="http://user:SENTINEL-URL@127.0.0.1:1/a@b",
              chinaums_token_url="https://SENTINEL-TOKEN@127.0.0.1:1/token",
              proxy="http://proxyuser:SENTINEL-PROXY@127.0.0.1:3128", timeout=2)
    expected = ("juhe_key='***', juhe_base_url='http://user:***@127.0.0.1:1/a@b', chinaums_app_id='app', "
                "chinaums_app_key='***', chinaums_token_url='https://***@127.0.0.1:1/token', timeout=2.0, "
                "proxy='http://proxyuser:***@127.0.0.1:3128'")
    monkeypatch.setenv("PIAOJU_JUHE_KEY", "SENTINEL-ENV")
    monkeypatch.setenv("PIAOJU_PROXY", "http://u:SENTINEL-ENV-PROXY@127.0.0.1:3128")
    for cls in (piaoju.Client, piaoju.AsyncClient):
        client = cls(**kw)
        assert repr(client) == f"{cls.__name__}({expected})"
        config = json.loads(client._native.config_json())
        shown = [repr(client), repr(cls.from_config(config)), repr(pickle.loads(pickle.dumps(client))),
                 repr(client.with_options(max_qps=1)), repr(cls.from_env())]
        assert repr(cls.from_env()) == f"{cls.__name__}(juhe_key='***', proxy='http://u:***@127.0.0.1:3128')"
        for text in shown:
            assert "SENTINEL" not in text, text
