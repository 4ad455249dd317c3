"""The configuration rule (tests/config_cases.tsv), as the Rust and C suites run it too."""

import json

import pytest

import piaoju
from piaoju import _native

from conftest import ROOT


def cases():
    for line in (ROOT / "tests" / "config_cases.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            env, config, expected = line.split("\t")
            yield pytest.param(env, config, expected, id=f"{env} {config}")


def receipt_status(config):
    try:
        client = piaoju.Client.from_env() if config == "NULL" else piaoju.Client.from_config(json.loads(config))
        client.recognize_shopping_receipt(b"no image")
    except piaoju.PiaojuError as e:
        return e.name
    return "ok"


def one_shot_status(config):
    request = {"operation": "shopping_receipt", "image_base64": "bm8gaW1hZ2U="}
    if config != "NULL":
        request["config"] = json.loads(config)
    out = json.loads(_native.call_json(json.dumps(request)))
    return "ok" if out["ok"] else out["error"]["name"]


def test_there_are_cases():
    assert len(list(cases())) == 18


@pytest.mark.parametrize("env, config, expected", list(cases()))
def test_the_same_configuration_means_the_same_client_everywhere(env, config, expected, monkeypatch):
    monkeypatch.delenv("PIAOJU_JUHE_KEY", raising=False)
    monkeypatch.delenv("PIAOJU_ASCII_JSON", raising=False)
    for setting in env.split("+"):
        if setting == "set":
            monkeypatch.setenv("PIAOJU_JUHE_KEY", "key-from-the-environment")
        elif setting.startswith("ascii="):
            monkeypatch.setenv("PIAOJU_ASCII_JSON", setting[len("ascii="):])
        else:
            assert setting == "-", f"unknown environment setting {setting!r}"

    assert receipt_status(config) == expected
    assert one_shot_status(config) == expected
