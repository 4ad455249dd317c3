import threading
import time

import pytest

import piaoju

DELAY_MS = 200
THREADS = 8


def test_gil_is_released_during_calls(fixtures):
    with piaoju.Sandbox() as sandbox:
        client = sandbox.client(faults=f"delay={DELAY_MS}")
        results = []
        errors = []

        def work(i):
            try:
                if i % 2:
                    results.append(client.recognize_used_car_invoice(fixtures / "invoice.png").vin)
                else:
                    results.append(str(client.recognize_shopping_receipt(fixtures / "receipt.png").total_amount))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        elapsed = time.perf_counter() - started
        assert not errors
        assert sorted(results) == ["12.50"] * 4 + ["LFV3A28W6K3705006"] * 4
        stats = sandbox.stats()
        # The overlap, shown by the server rather than by a clock: with the GIL held for the
        # whole call, the sandbox would never see two requests at once.
        assert stats["max_in_flight"] > 1, stats
        assert stats["tokens_issued"] == 1, "one token refresh for all threads"
        print(f"\n{THREADS} calls of {DELAY_MS} ms each took {elapsed * 1000:.0f} ms in {THREADS} threads "
              f"(serial would be {THREADS * DELAY_MS} ms); at most {stats['max_in_flight']} at once")


def test_token_refresh_after_revocation(sandbox, fixtures):
    client = sandbox.client()
    client.recognize_used_car_invoice(fixtures / "invoice.png")
    sandbox.revoke_tokens()
    assert client.recognize_used_car_invoice(fixtures / "invoice.png").vin == "LFV3A28W6K3705006"
    stats = sandbox.stats()
    assert (stats["tokens_issued"], stats["auth_rejections"], stats["ocr_requests"]) == (2, 1, 3)


def test_token_expiry(fixtures):
    with piaoju.Sandbox(token_ttl=1) as sandbox:
        client = sandbox.client()
        client.recognize_used_car_invoice(fixtures / "invoice.png")
        time.sleep(1.1)
        client.recognize_used_car_invoice(fixtures / "invoice.png")
        assert sandbox.stats()["tokens_issued"] == 2
        assert sandbox.stats()["auth_rejections"] == 0


def test_global_faults_and_registered_answers(sandbox, fixtures):
    client = sandbox.client()
    sandbox.set_faults("juhe=10012")
    with pytest.raises(piaoju.QuotaError):
        client.recognize_shopping_receipt(fixtures / "receipt.png")
    sandbox.clear_faults()
    sandbox.register_answer(
        fixtures / "receipt.bmp",
        '{"reason":"成功","error_code":0,"result":{"orderid":"mine","data":{"total_amount":"99.90","table":[]}}}',
    )
    r = client.recognize_shopping_receipt(fixtures / "receipt.bmp")
    assert (r.order_id, str(r.total_amount)) == ("mine", "99.90")
    assert client.recognize_shopping_receipt(fixtures / "receipt.png").order_id == "JH1241217171601ZDomp"
    with pytest.raises(ValueError):
        sandbox.set_faults("explode")
    with pytest.raises(ValueError):
        sandbox.fault_url("delay=soon")


def test_wrapped_answers_and_pdf(sandbox, fixtures):
    inv = sandbox.client(faults="wrapped", auth="body_signature").recognize_used_car_invoice(fixtures / "invoice.pdf")
    assert inv.total_price_in_words == "壹万圆整"


def test_closed_sandbox(fixtures):
    sandbox = piaoju.Sandbox()
    url = sandbox.url
    sandbox.close()
    with pytest.raises(RuntimeError):
        sandbox.stats()
    client = piaoju.Client(juhe_key="k", juhe_base_url=url, timeout=2)
    with pytest.raises(piaoju.NetworkError):
        client.recognize_shopping_receipt(fixtures / "receipt.png")


@pytest.mark.parametrize("ttl", [0, -1, float("nan")])
def test_bad_token_ttl(ttl):
    with pytest.raises(ValueError):
        piaoju.Sandbox(token_ttl=ttl)
