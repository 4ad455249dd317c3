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
