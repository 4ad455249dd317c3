"""core's log records reach Python's logging, logger "piaoju": a retry is there, with no secret."""

import logging

import pytest

import piaoju


def test_a_retry_is_in_logging_without_a_secret(fixtures, sandbox, caplog):
    # The sandbox's fixed sequence at 0.8: two requests refused with HTTP 503 (each retried),
    # then one answered. The secrets: the key, and a password in the URL.
    key = sandbox.juhe_key
    url = sandbox.url.replace("http://", "http://user:SENTINEL-URL-PASS@")
    client = piaoju.Client.from_config(
        {
            "juhe": {"key": key, "base_url": url + "/fault/flaky=0.8"},
            "retry": {"max_attempts": 5, "base_delay_ms": 1, "max_delay_ms": 5},
        }
    )
    with caplog.at_level(logging.DEBUG, logger="piaoju"):
        receipt = client.recognize_shopping_receipt(fixtures / "receipt.png")
    assert receipt.attempts == 3
    ours = [r for r in caplog.records if r.name == "piaoju"]
    retries = [r for r in ours if "retrying in" in r.getMessage()]
    assert len(retries) == 2, [r.getMessage() for r in ours]
    for r in retries:
        assert r.levelno == logging.INFO
        assert r.getMessage().startswith("Juhe: [603 service_http_error]")
    assert any("sent as given" in r.getMessage() for r in ours)
    for r in caplog.records:
        message = r.getMessage()
        assert "SENTINEL" not in message and key not in message, message


def test_the_level_set_in_python_is_followed(fixtures, sandbox, caplog):
    client = sandbox.client()
    with caplog.at_level(logging.INFO, logger="piaoju"):
        client.recognize_shopping_receipt(fixtures / "receipt.png")
    # Only debug records for a call that needs no retry: none at INFO.
    assert [r for r in caplog.records if r.name == "piaoju"] == []
    with caplog.at_level(logging.DEBUG, logger="piaoju"):
        client.recognize_shopping_receipt(fixtures / "receipt.png")
    assert any(
        r.name == "piaoju" and r.levelno == logging.DEBUG for r in caplog.records
    )


def test_the_commands_verbose_mode_ends_with_the_command(fixtures, sandbox, caplog, capfd):
    # `piaoju receipt -vv` run inside this process prints piaoju's records on stderr while it
    # runs; once it has returned, the records go to Python's logging again, not to stderr.
    from piaoju import _native

    status = _native.cli_main(
        ["piaoju", "receipt", str(fixtures / "receipt.png"), "--sandbox", "--format", "json", "-vv"]
    )
    assert status == 0
    assert "piaoju: debug:" in capfd.readouterr().err
    with caplog.at_level(logging.DEBUG, logger="piaoju"):
        sandbox.client().recognize_shopping_receipt(fixtures / "receipt.png")
    assert any(r.name == "piaoju" for r in caplog.records)
    assert "piaoju: debug:" not in capfd.readouterr().err
