"""Batches that used to lose or waste a paid answer, from Python (issue "never lose a paid
answer"): the tenant of a pickled client, unbounded jobs, the same image with a
possibly-billed failure, the exception built from the core's one error payload."""

import pickle

import pytest

import piaoju


def test_a_pickled_client_from_the_environment_keeps_its_tenant(sandbox, fixtures, monkeypatch):
    # Tenant A's key is in the environment where the client is made; a worker process has
    # tenant B's. The unpickled client is still tenant A's.
    monkeypatch.setenv("PIAOJU_JUHE_KEY", sandbox.juhe_key)
    monkeypatch.setenv("PIAOJU_JUHE_BASE_URL", sandbox.url)
    client = piaoju.Client.from_env()
    data = pickle.dumps(client)
    monkeypatch.setenv("PIAOJU_JUHE_KEY", "tenant-b-key")
    monkeypatch.setenv("PIAOJU_JUHE_BASE_URL", "http://127.0.0.1:9")
    receipt = pickle.loads(data).recognize_shopping_receipt(fixtures / "receipt.png")
    assert str(receipt.total_amount) == "12.50"
    # A client made from the environment now is tenant B's.
    with pytest.raises(piaoju.NetworkError):
        piaoju.Client.from_env().recognize_shopping_receipt(fixtures / "receipt.png")


@pytest.mark.parametrize("jobs", [0, 257, 2000, True, 2.5])
def test_jobs_out_of_range_is_a_usage_error_before_anything_is_sent(sandbox, fixtures, jobs):
    client = sandbox.client()
    with pytest.raises(piaoju.UsageError) as e:
        client.recognize_many([fixtures / "receipt.png"], jobs=jobs)
    assert e.value.code == 100 and "1 to 256" in e.value.message
    assert sandbox.stats()["juhe_requests"] == 0


def test_the_same_image_with_a_possibly_billed_failure_is_sent_once(sandbox, fixtures):
    # The provider processes the request, then the connection breaks: the other two inputs with
    # the same bytes get the same failure without a request.
    image = (fixtures / "receipt.png").read_bytes()
    client = sandbox.client(faults="delay=100,after_send=reset")
    items = list(client.recognize_many([image, image, image], jobs=3))
    assert [type(i.error) for i in items] == [piaoju.NetworkError] * 3
    assert sorted(i.error.attempts for i in items) == [0, 0, 1]
    assert all(i.error.possibly_billed for i in items)
    assert sandbox.image_requests(image)[0] == 1


def test_an_exception_is_its_error_payload(sandbox, fixtures):
    with pytest.raises(piaoju.QuotaError) as e:
        sandbox.client(faults="juhe=10012").recognize_shopping_receipt(fixtures / "receipt.png")
    payload = e.value.to_dict()
    assert payload["band"] == "quota" and payload["cached"] is False
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is piaoju.QuotaError and again.to_dict() == payload


def test_an_item_says_whether_its_answer_was_recorded(sandbox, fixtures, tmp_path):
    config = {**sandbox.config(), "cache": {"path": str(tmp_path / "c.sqlite")}}
    items = list(piaoju.Client.from_config(config).recognize_many([fixtures / "receipt.png"]))
    assert items[0].result is not None and items[0].cache_error is None
    assert items[0].result.cache_error is None
