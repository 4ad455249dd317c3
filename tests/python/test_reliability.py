"""Fork safety and one deadline per call (README, "Guarantees")."""

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
