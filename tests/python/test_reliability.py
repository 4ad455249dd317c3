"""Fork safety and one deadline per call (docs/guarantees.md)."""

import json
import os
import threading
import time

import pytest

import piaoju


def answer(order_id):
    return json.dumps({"reason": "成功", "error_code": 0, "result": {"orderid": order_id, "data": {}}})


def in_child(work):
    """Run `work()` in a forked child; its result (a str) or its exception text comes back."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(w, str(work()).encode()[:4000])
        except BaseException as e:  # noqa: BLE001 - everything is reported to the parent
            os.write(w, f"child raised {e!r}".encode()[:4000])
        finally:
            os._exit(0)
    os.close(w)

    def wait():
        chunks = []
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        os.waitpid(pid, 0)
        return b"".join(chunks).decode()

    return wait


@pytest.mark.parametrize("calls_before_fork", [1, 3])
def test_after_fork_each_process_gets_its_own_answers(sandbox, fixtures, calls_before_fork):
    base = (fixtures / "receipt.png").read_bytes()
    images = {}
    for who in ("parent", "child"):
        for i in range(20):
            image = base + f"{who}-{i}".encode()
            sandbox.register_answer(image, answer(f"{who}-{i}"))
            images[who, i] = image
    client = sandbox.client()
    for _ in range(calls_before_fork):  # pooled keep-alive connections now exist
        assert client.recognize_shopping_receipt(base).shop_name == "多又好超市"

    def child():
        got = [client.recognize_shopping_receipt(images["child", i]).order_id for i in range(20)]
        return "ok" if got == [f"child-{i}" for i in range(20)] else f"wrong answers {got}"

    wait = in_child(child)
    got = [client.recognize_shopping_receipt(images["parent", i]).order_id for i in range(20)]
    assert got == [f"parent-{i}" for i in range(20)]
    assert wait() == "ok"


def test_fork_while_a_token_fetch_is_in_progress(sandbox, fixtures):
    client = sandbox.client(faults="token-delay=1500", timeout=5)
    fetching = threading.Thread(target=client.recognize_used_car_invoice, args=(fixtures / "invoice.png",))
    fetching.start()
    time.sleep(0.3)  # the other thread is now inside the token fetch

    def child():
        started = time.monotonic()
        inv = client.recognize_used_car_invoice(fixtures / "invoice.png")
        return f"{inv.vin} {time.monotonic() - started:.2f}"

    vin, elapsed = in_child(child)().split()
    fetching.join()
    assert vin == "LFV3A28W6K3705006"
    assert float(elapsed) < 5 * 1.3


def test_threads_waiting_on_a_hanging_token_endpoint_end_at_their_deadline(sandbox, fixtures):
    client = sandbox.client(faults="token-delay=5000", timeout=1.0)
    outcomes = []
    started = time.monotonic()

    def call():
        try:
            client.recognize_used_car_invoice(fixtures / "invoice.png")
            outcomes.append(("ok", time.monotonic() - started))
        except piaoju.PiaojuError as e:
            outcomes.append((e.name, time.monotonic() - started))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [name for name, _ in outcomes] == ["timeout"] * 8
    assert max(elapsed for _, elapsed in outcomes) < 1.0 * 1.3
    assert sandbox.stats()["token_requests"] == 1


def test_slow_token_and_slow_answer_share_one_deadline(sandbox, fixtures):
    client = sandbox.client(faults="delay=800", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(piaoju.Timeout):
        client.recognize_used_car_invoice(fixtures / "invoice.png")
    assert time.monotonic() - started < 1.0 * 1.3


def test_ctrl_c_interrupts_a_waiting_call_at_once(sandbox, fixtures):
    import signal

    # The test sets the handler it depends on: started from a background shell (or nohup), the
    # process inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        client = sandbox.client(faults="delay=5000", timeout=10)
        sent = []
        timer = threading.Timer(
            0.3, lambda: (sent.append(time.monotonic()), os.kill(os.getpid(), signal.SIGINT))
        )
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.recognize_shopping_receipt(fixtures / "receipt.png")
        latency = time.monotonic() - sent[0]
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"KeyboardInterrupt {latency * 1000:.0f} ms after SIGINT")
    assert latency < 1.0, latency  # the call itself would take 5 s


def test_a_panic_is_an_internal_error_not_a_base_exception():
    with pytest.raises(piaoju.InternalError) as e:
        piaoju._native._panic_inside_boundary("deliberate")
    assert isinstance(e.value, Exception)
    assert e.value.code == 901 and e.value.name == "panic" and "deliberate" in e.value.message


def test_configuration_that_used_to_panic_is_a_config_error():
    for config in ({"proxy": "socks5://127.0.0.1:1080"}, {"user_agent": "a\r\nX-Evil: 1"},
                   {"user_agent": "bell\x07"}, {"timeout_ms": 2**64 - 1}):
        with pytest.raises(piaoju.ConfigError):
            piaoju.Client.from_config(config)
    for ttl in (1e30, float("inf"), float("nan"), -1, 0):
        with pytest.raises(ValueError):
            piaoju.Sandbox(token_ttl=ttl)
    with piaoju.Sandbox(token_ttl=1e12) as sb:  # expiresIn far beyond a day: capped, no overflow
        assert sb.client().recognize_used_car_invoice(b"%PDF-1.4\n").vin == "LFV3A28W6K3705006"


def test_streams_and_bytes_are_read_up_to_the_limit_only(sandbox):
    client = sandbox.client()
    with open("/dev/zero", "rb") as endless:
        with pytest.raises(piaoju.ImageError) as e:
            client.recognize_shopping_receipt(endless)
    assert e.value.name == "image_too_large"
    with pytest.raises(piaoju.ImageError) as e:
        client.recognize_shopping_receipt("/dev/zero")  # not a regular file
    assert e.value.name == "image_unreadable"
    big_pdf = b"%PDF-1.4\n" + bytes(piaoju._native.MAX_IMAGE_LEN)
    with pytest.raises(piaoju.ImageError) as e:
        client.recognize_used_car_invoice(big_pdf)
    assert e.value.name == "image_too_large"
    assert sandbox.stats()["ocr_requests"] == 0 and sandbox.stats()["juhe_requests"] == 0


def test_a_huge_answer_is_refused_within_the_deadline_and_little_memory(tmp_path):
    """16 MiB of {} rows: refused as unexpected_response, in a fresh process whose peak RSS
    stays under 200 MB (the sandbox holding the body lives in that process too)."""
    import subprocess
    import sys

    script = tmp_path / "huge.py"
    script.write_text(
        "import json, resource, sys, time\n"
        "import piaoju\n"
        "image = open(sys.argv[1], 'rb').read()\n"
        "body = '{\"error_code\":0,\"reason\":\"ok\",\"result\":{\"data\":{\"table\":[' + '{},' * 5592000 + '{}]}}}'\n"
        "with piaoju.Sandbox() as sb:\n"
        "    sb.register_answer(image, body)\n"
        "    del body\n"
        "    client = sb.client(timeout=5)\n"
        "    started = time.monotonic()\n"
        "    try:\n"
        "        client.recognize_shopping_receipt(image)\n"
        "        name = 'ok'\n"
        "    except piaoju.PiaojuError as e:\n"
        "        name = e.name\n"
        "    elapsed = time.monotonic() - started\n"
        "print(json.dumps({'name': name, 'elapsed': elapsed,\n"
        "                  'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    from conftest import FIXTURES

    out = subprocess.run([sys.executable, str(script), str(FIXTURES / "receipt.png")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    print(result)
    assert result["name"] == "unexpected_response"
    assert result["elapsed"] < 5 * 1.3
    assert result["peak_mb"] < 200


def test_an_unloadable_exception_module_does_not_hide_the_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "piaoju.errors", None)
    with pytest.raises(RuntimeError) as e:
        piaoju._native.raise_error(101, "the real problem")
    assert "the real problem" in str(e.value) and "piaoju.errors" in str(e.value)


def test_retries_never_pay_twice(sandbox, fixtures):
    image = (fixtures / "receipt.png").read_bytes()
    with pytest.raises(piaoju.NetworkError) as e:
        sandbox.client(faults="after_send=reset").recognize_shopping_receipt(image)
    assert e.value.name == "connection_broken"
    assert e.value.possibly_billed is True and e.value.attempts == 1
    assert e.value.to_dict()["possibly_billed"] is True
    config = {**sandbox.config(faults="flaky=0.5"),
              "retry": {"max_attempts": 10, "base_delay_ms": 1, "max_delay_ms": 10}}
    client = piaoju.Client.from_config(config)
    attempts = [client.recognize_shopping_receipt(image + bytes([i])).attempts for i in range(10)]
    assert all(a >= 1 for a in attempts) and max(attempts) > 1, attempts
    with pytest.raises(piaoju.ServiceError) as e:
        piaoju.Client.from_config({**sandbox.config(faults="flaky=1"), "retry": {"max_attempts": 1}}) \
            .recognize_shopping_receipt(image)
    assert (e.value.attempts, e.value.possibly_billed) == (1, False)


def test_the_result_cache_never_pays_twice(sandbox, fixtures, tmp_path):
    config = {**sandbox.config(), "cache": {"path": str(tmp_path / "cache.sqlite")}}
    first = piaoju.Client.from_config(config).recognize_shopping_receipt(fixtures / "receipt.png")
    again = piaoju.Client.from_config(config).recognize_shopping_receipt(fixtures / "receipt.png")
    assert (first.cached, first.attempts) == (False, 1)
    assert (again.cached, again.attempts) == (True, 0)
    assert again.total_amount == first.total_amount
    assert sandbox.stats()["juhe_requests"] == 1


def test_recognize_many_returns_every_image_and_pickles_the_client(sandbox, fixtures, tmp_path):
    import pickle

    base = (fixtures / "receipt.png").read_bytes()
    images = [base + bytes([i]) for i in range(20)] + [b"not an image"]
    config = {**sandbox.config(faults="flaky=0.2"), "cache": {"path": str(tmp_path / "c.sqlite")},
              "retry": {"max_attempts": 10, "base_delay_ms": 1, "max_delay_ms": 10}}
    client = piaoju.Client.from_config(config)
    progress = []
    items = list(client.recognize_many(images, kind="receipt", jobs=4, qps=50, on_progress=progress.append))
    assert len(items) == 21 and {id(i.input) for i in items} == {id(i) for i in images}
    failed = [i for i in items if i.error is not None]
    assert len(failed) == 1 and failed[0].input == b"not an image"
    assert isinstance(failed[0].error, piaoju.ImageError)
    assert all(i.result.shop_name == "多又好超市" for i in items if i.error is None)
    assert progress[-1]["done"] == 21 and progress[-1]["failed"] == 1
    # Pickled and rebuilt (as a Dask worker would): the same configuration, the same cache.
    again = pickle.loads(pickle.dumps(client))
    before = sandbox.stats()["juhe_requests"]
    second = list(again.recognize_many(images[:20], jobs=8))
    assert all(i.result.cached for i in second)
    assert sandbox.stats()["juhe_requests"] == before
