"""The client shaped like a Python SDK: a keyword-only constructor covering every key of core's
configuration, a repr that shows what was set (secrets as '***'), with_options, one name per
document type, and AsyncClient (calls as coroutines that overlap, a cancelled call abandoned,
batches as async iterators)."""

import asyncio
import inspect
import json
import pickle
import re
import sys
import time
from decimal import Decimal

import pytest

import piaoju

from test_economy import receipts, settle


def native_config(client):
    return json.loads(client._native.config_json())


def core_fields(section=None):
    """The keys core's configuration accepts (at the top, or in a section), as core itself lists
    them when refusing an unknown one: this test's oracle is core, not the Python table."""
    config = {"no_such_key": 1} if section is None else {section: {"no_such_key": 1}}
    with pytest.raises(piaoju.ConfigError) as e:
        piaoju.Client.from_config(config)
    expected = e.value.message.split("expected", 1)[1]
    return re.findall(r"`(\w+)`", expected)


#: Every keyword, and the configuration JSON it gives.
EVERY_KEYWORD = dict(
    juhe_key="jk", juhe_base_url="http://127.0.0.1:1/juhe",
    chinaums_app_id="id", chinaums_app_key="ak", chinaums_environment="production",
    chinaums_base_url="http://127.0.0.1:1/ums", chinaums_token_url="http://127.0.0.1:1/token",
    chinaums_auth="body_signature", chinaums_max_base64_bytes=1_000_000, chinaums_max_side=4000,
    timeout=2.5, connect_timeout=0.75, proxy="http://proxy.example:3128", user_agent="erp/1",
    tls_roots="system", tls_ca_file="/etc/ssl/company.pem", image_fit="off",
    retry_max_attempts=5, retry_base_delay=0.1, retry_max_delay=2.0,
    max_qps=2.5, max_in_flight=3, cache="results.sqlite",
)
EVERY_KEY = {
    "juhe": {"key": "jk", "base_url": "http://127.0.0.1:1/juhe"},
    "chinaums": {"app_id": "id", "app_key": "ak", "environment": "production",
                 "base_url": "http://127.0.0.1:1/ums", "token_url": "http://127.0.0.1:1/token",
                 "auth": "body_signature", "max_base64_bytes": 1_000_000, "max_side": 4000},
    "timeout_ms": 2500, "connect_timeout_ms": 750, "proxy": "http://proxy.example:3128",
    "user_agent": "erp/1", "tls": {"roots": "system", "ca_file": "/etc/ssl/company.pem"},
    "image_fit": "off", "retry": {"max_attempts": 5, "base_delay_ms": 100, "max_delay_ms": 2000},
    "max_qps": 2.5, "max_in_flight": 3, "cache": {"path": "results.sqlite"},
}


@pytest.fixture
def offline_ca(tmp_path, monkeypatch):
    """tls_ca_file and the cache must exist for the client to be made: put both in tmp_path."""
    monkeypatch.chdir(tmp_path)
    import ssl

    # Any PEM certificate will do: the system's own bundle, else Python's.
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and __import__("os").path.isfile(candidate):
            return candidate
    pytest.skip("no CA bundle on this machine to stand for a company CA")


def every(ca):
    kw = dict(EVERY_KEYWORD, tls_ca_file=ca)
    key = json.loads(json.dumps(EVERY_KEY))
    key["tls"]["ca_file"] = ca
    return kw, key


def test_every_key_of_cores_configuration_has_a_keyword(offline_ca):
    kw, key = every(offline_ca)
    # Core's keys, as core names them: every one is in EVERY_KEY but ascii_json, which only
    # changes the C library's JSON text (Python's objects are the same): from_config has it.
    top = core_fields()
    assert set(top) == set(key) | {"ascii_json"}, top
    for section in ("juhe", "chinaums", "tls", "retry", "cache"):
        assert set(core_fields(section)) == set(key[section]), section
    client = piaoju.Client(**kw)
    assert native_config(client) == key
    assert native_config(piaoju.Client.from_config(key)) == key
    # The keywords are the constructor's, ClientOptions' and with_options' alike.
    names = [p.name for p in inspect.signature(piaoju.Client).parameters.values()]
    assert names == list(kw)
    assert set(piaoju.ClientOptions.__annotations__) == set(kw)
    assert native_config(piaoju.AsyncClient(**kw)) == key
    assert native_config(piaoju.Client().with_options(**kw)) == key


def test_the_constructor_is_keyword_only():
    for cls in (piaoju.Client, piaoju.AsyncClient):
        with pytest.raises(TypeError):
            cls("a-juhe-key")
        with pytest.raises(TypeError):
            cls(juhe_kye="x")
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(cls).parameters.values())


@pytest.mark.parametrize(
    "kw, says",
    [
        (dict(timeout="fast"), "timeout must be a positive number of seconds, not str"),
        (dict(timeout=True), "timeout must be a positive number of seconds, not bool"),
        (dict(timeout=-1), "timeout must be a positive number of seconds, got -1"),
        (dict(timeout=0), "timeout must be a positive number of seconds, got 0"),
        (dict(connect_timeout=float("inf")), "connect_timeout must be a positive number of seconds"),
        (dict(timeout=86_400.001), "timeout_ms must be at most 86400000"),
        (dict(retry_base_delay=-0.5), "retry_base_delay must be 0 or more seconds"),
        (dict(retry_base_delay=3.0, retry_max_delay=1.0), "base_delay_ms must not exceed"),
        (dict(retry_max_attempts=11), "retry.max_attempts must be 1 to 10"),
        (dict(retry_max_attempts=2.0), "retry_max_attempts must be an int, not float"),
        (dict(max_qps=0), "max_qps must be a number from 0.001"),
        (dict(max_qps="10"), "max_qps must be a number, not str"),
        (dict(max_in_flight=0), "max_in_flight must be 1 to 1024"),
        (dict(chinaums_max_side=8), "max_side at least 16"),
        (dict(chinaums_auth="token"), "access_token"),
        (dict(chinaums_environment="prod"), "production"),
        (dict(tls_roots="mozilla"), "bundled"),
        (dict(image_fit="maybe"), "auto"),
        (dict(juhe_base_url="apis.juhe.cn"), "juhe.base_url must be an http:// or https:// URL"),
        (dict(proxy="socks5://127.0.0.1:1080"), "proxy must be an http:// or https:// proxy URL"),
        (dict(user_agent="ua\r\nX-Injected: 1"), "user_agent contains a control character"),
        (dict(juhe_key=""), "juhe.key is empty"),
        (dict(cache=3), "cache must be a path (str or os.PathLike), not int"),
        (dict(tls_ca_file="/nonexistent/ca.pem"), "ca.pem"),
    ],
)
def test_a_wrong_type_or_value_is_a_config_error(kw, says):
    for make in (lambda: piaoju.Client(**kw), lambda: piaoju.AsyncClient(**kw),
                 lambda: piaoju.Client().with_options(**kw)):
        with pytest.raises(piaoju.ConfigError) as e:
            make()
        assert e.value.code == 101 and isinstance(e.value, ValueError)
        assert says in e.value.message, e.value.message


def test_a_secret_of_the_wrong_type_is_not_quoted():
    for kw in (dict(juhe_key=b"SENTINEL"), dict(chinaums_app_key=["SENTINEL"])):
        with pytest.raises(piaoju.ConfigError) as e:
            piaoju.Client(**kw)
        assert "SENTINEL" not in str(e.value) and "must be a str" in e.value.message


def test_keywords_in_seconds_are_milliseconds_in_the_configuration():
    client = piaoju.Client(timeout=0.0001, connect_timeout=2, retry_base_delay=0, retry_max_delay=0.25)
    assert native_config(client) == {
        "timeout_ms": 1, "connect_timeout_ms": 2000, "retry": {"max_attempts": 3, "base_delay_ms": 0, "max_delay_ms": 250},
    }
    assert repr(client) == "Client(timeout=0.001, connect_timeout=2.0, retry_base_delay=0.0, retry_max_delay=0.25)"


def test_repr_shows_only_the_settings_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # for the cache file
    assert repr(piaoju.Client()) == "Client()"
    assert repr(piaoju.AsyncClient()) == "AsyncClient()"
    client = piaoju.Client(juhe_key="JUHE-SECRET", timeout=3, max_in_flight=4,
                           proxy="http://user:PROXYPASS@127.0.0.1:3128", cache="r.sqlite",
                           chinaums_app_id="app", chinaums_app_key="UMS-SECRET")
    assert repr(client) == (
        "Client(juhe_key='***', chinaums_app_id='app', chinaums_app_key='***', timeout=3.0, "
        "proxy='http://user:***@127.0.0.1:3128', max_in_flight=4, cache='r.sqlite')"
    )
    assert repr(pickle.loads(pickle.dumps(client))) == repr(client)


def test_from_config_and_from_env_reprs(monkeypatch):
    client = piaoju.Client.from_config({"juhe": {"key": "K"}, "ascii_json": True, "retry": {"max_attempts": 1}})
    assert repr(client) == "Client(juhe_key='***', retry_max_attempts=1)"
    monkeypatch.setenv("PIAOJU_JUHE_KEY", "FROM-THE-ENV")
    monkeypatch.setenv("PIAOJU_TIMEOUT_MS", "2500")
    assert repr(piaoju.AsyncClient.from_env()) == "AsyncClient(juhe_key='***', timeout=2.5)"


def test_with_options_returns_a_changed_copy_and_leaves_the_original(sandbox, fixtures):
    original = piaoju.Client(juhe_key="wrong-key", juhe_base_url=sandbox.url, timeout=5, max_qps=50)
    before = (repr(original), native_config(original))
    fixed = original.with_options(juhe_key=sandbox.juhe_key, max_qps=None, timeout=2)
    assert type(fixed) is piaoju.Client and fixed is not original
    assert native_config(fixed) == {"juhe": {"key": sandbox.juhe_key, "base_url": sandbox.url}, "timeout_ms": 2000}
    assert (repr(original), native_config(original)) == before
    assert fixed.recognize_shopping_receipt(fixtures / "receipt.png").total_amount == Decimal("12.50")
    with pytest.raises(piaoju.AuthError):
        original.recognize_shopping_receipt(fixtures / "receipt.png")
    # None removes a key, and a section left empty.
    assert native_config(fixed.with_options(juhe_key=None, juhe_base_url=None, timeout=None)) == {}
    with pytest.raises(TypeError, match="unexpected keyword argument 'timeout_ms'"):
        fixed.with_options(timeout_ms=1)
    # From a dict or the environment, and for the async client, alike; other keys are kept.
    from_dict = piaoju.AsyncClient.from_config({**sandbox.config(), "ascii_json": True})
    changed = from_dict.with_options(timeout=1.5)
    assert type(changed) is piaoju.AsyncClient
    expected = native_config(piaoju.Client.from_config(sandbox.config()))
    assert native_config(changed) == {**expected, "ascii_json": True, "timeout_ms": 1500}


def test_kinds_are_the_document_types_names_with_the_short_words_as_aliases(sandbox, fixtures):
    client = sandbox.client()
    receipt = client.recognize_shopping_receipt(fixtures / "receipt.png")
    invoice = client.recognize_used_car_invoice(fixtures / "invoice.png")
    assert (receipt.document_type, invoice.document_type) == ("shopping_receipt", "used_car_invoice")
    for kind, doc in (("shopping_receipt", receipt), ("receipt", receipt),
                      (invoice.document_type, invoice), ("invoice", invoice)):
        path = fixtures / ("receipt.png" if doc is receipt else "invoice.png")
        [item] = client.recognize_many([path], kind=kind, cache=False)
        assert item.result == doc, kind
    [item] = client.recognize_many([fixtures / "receipt.png"], cache=False)  # the default
    assert item.result == receipt
    with pytest.raises(piaoju.UsageError) as e:
        client.recognize_many([], kind="ShoppingReceipt")
    assert '"shopping_receipt" or "used_car_invoice"' in e.value.message
    with pytest.raises(piaoju.UsageError):
        piaoju.AsyncClient.from_config(sandbox.config()).recognize_many([], kind="receipts")


def test_a_batch_holds_the_callers_bytes_not_a_copy(sandbox, fixtures):
    image = (fixtures / "receipt.png").read_bytes() + b"not-copied"
    before = sys.getrefcount(image)
    results = sandbox.client(faults="delay=300").recognize_many([image], jobs=1, cache=False)
    # The batch's inputs (for BatchItem.input) and the native batch each hold the object
    # itself; a copy would leave one reference fewer.
    assert sys.getrefcount(image) == before + 2
    [item] = list(results)
    assert item.input is image and item.result.total_amount == Decimal("12.50")


# AsyncClient

def run(coroutine):
    return asyncio.run(coroutine)


def test_async_calls_overlap_without_holding_the_gil(sandbox, fixtures):
    client = piaoju.AsyncClient.from_config(sandbox.config(faults="delay=300"))

    async def eight():
        started = time.monotonic()
        receipts_ = await asyncio.gather(*(client.recognize_shopping_receipt(fixtures / "receipt.png")
                                           for _ in range(8)))
        return time.monotonic() - started, receipts_

    elapsed, results = run(eight())
    print(f"8 async calls against a 300 ms sandbox delay: {elapsed:.3f} s (8 x 300 ms = 2.4 s)")
    assert [r.total_amount for r in results] == [Decimal("12.50")] * 8
    assert elapsed < 1.5, elapsed  # a generous bound: one after another would take 2.4 s
    assert sandbox.stats()["max_in_flight"] >= 4  # the sandbox saw them at the same time


def test_async_invoice_and_errors_are_the_sync_ones(sandbox, fixtures):
    client = piaoju.AsyncClient.from_config(sandbox.config())

    async def both():
        invoice = await client.recognize_used_car_invoice(open(fixtures / "invoice.pdf", "rb"))
        with pytest.raises(piaoju.QuotaError) as e:
            await client.with_options(juhe_base_url=sandbox.fault_url("juhe=10012")).recognize_shopping_receipt(
                fixtures / "receipt.png")
        return invoice, e.value

    invoice, error = run(both())
    assert invoice == piaoju.Client.from_config(sandbox.config()).recognize_used_car_invoice(fixtures / "invoice.pdf")
    assert (error.code, error.provider_code) == (501, "10012")


def test_a_cancelled_call_raises_cancelled_error_at_once_and_is_abandoned(sandbox, fixtures, tmp_path):
    cache = str(tmp_path / "cache.sqlite")
    client = piaoju.AsyncClient.from_config(sandbox.config(faults="delay=1000", timeout=5.0)).with_options(cache=cache)
    reported = []

    async def cancel_it():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context))
        task = asyncio.ensure_future(client.recognize_shopping_receipt(fixtures / "receipt.png"))
        await asyncio.sleep(0.3)  # the request is out; the sandbox answers after 1 s
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        took = time.monotonic() - started
        await asyncio.sleep(1.5)  # the abandoned call has ended meanwhile
        return took

    took = run(cancel_it())
    assert took < 0.2, took
    assert reported == []  # its outcome was discarded, not reported as never retrieved
    # It ran to its end: the provider answered it (it may have been billed), and its answer
    # was recorded, so the same image now costs no request.
    assert sandbox.stats()["juhe_requests"] == 1
    again = piaoju.Client.from_config({**sandbox.config(faults="delay=1000"), "cache": {"path": cache}})
    assert again.recognize_shopping_receipt(fixtures / "receipt.png").cached is True
    assert sandbox.stats()["juhe_requests"] == 1


def test_an_async_batch_returns_every_item(sandbox, fixtures):
    client = piaoju.AsyncClient.from_config(sandbox.config())
    images = receipts(fixtures, 6) + [fixtures / "receipt.png", str(fixtures / "receipt.jpg")]
    progress = []

    async def collect():
        async with client.recognize_many(images, jobs=3, cache=False, on_progress=progress.append) as results:
            items = [item async for item in results]
            return items, results.summary

    items, summary = run(collect())
    assert sorted(map(id, (i.input for i in items))) == sorted(map(id, images))
    assert [i.result.total_amount for i in items] == [Decimal("12.50")] * len(images)
    assert summary.total == summary.succeeded == len(images) and summary.requests == len(images)
    assert progress[-1]["done"] == len(images)

    async def invoices():
        return [i async for i in client.recognize_many([fixtures / "invoice.png"], kind="used_car_invoice", cache=False)]

    [item] = run(invoices())
    assert item.result.vin == "LFV3A28W6K3705006"


def test_an_async_batch_left_early_stops(sandbox, fixtures):
    client = piaoju.AsyncClient.from_config(sandbox.config(faults="delay=200"))

    async def first_only():
        async with client.recognize_many(receipts(fixtures, 30), jobs=2, cache=False) as results:
            async for _item in results:
                break

    run(first_only())
    assert settle(sandbox) <= 2 + 1


def test_an_async_batch_cancelled_while_waiting_loses_no_item(sandbox, fixtures):
    client = piaoju.AsyncClient.from_config(sandbox.config(faults="delay=300"))
    images = receipts(fixtures, 3)

    async def interrupted():
        results = client.recognize_many(images, jobs=1, cache=False)
        waiting = asyncio.ensure_future(results.__anext__())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return [i async for i in results]

    items = run(interrupted())
    assert len(items) == 3 and all(i.result is not None for i in items)


def test_a_call_cancelled_before_it_starts_sends_nothing(sandbox, fixtures, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import piaoju._async_client as async_client

    pool = ThreadPoolExecutor(1)  # one call at a time, so that the second one waits its turn
    monkeypatch.setattr(async_client, "_pool", pool)
    client = piaoju.AsyncClient.from_config(sandbox.config(faults="delay=300"))

    async def second_cancelled():
        first = asyncio.ensure_future(client.recognize_shopping_receipt(fixtures / "receipt.png"))
        second = asyncio.ensure_future(client.recognize_shopping_receipt(fixtures / "receipt.jpg"))
        await asyncio.sleep(0.1)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        return await first

    assert run(second_cancelled()).total_amount == Decimal("12.50")
    pool.shutdown(wait=True)
    assert sandbox.stats()["juhe_requests"] == 1
