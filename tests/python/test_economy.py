"""Batches from Python that finish and never waste a paid call: a consumer that stops stops the
batch, Ctrl-C drains like the command, the user's cache by default, a budget, a summary."""

import _thread
import signal
import threading
import time

import pytest

import piaoju


def receipts(fixtures, n):
    base = (fixtures / "receipt.png").read_bytes()
    return [base + i.to_bytes(4, "big") for i in range(n)]


def settle(sandbox, seconds=1.0):
    """The sandbox's request count once it has not moved for a while (bounded)."""
    last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + 10
    while time.monotonic() < deadline:
        n = sandbox.stats()["juhe_requests"]
        if n != last:
            last, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since >= seconds:
            return n
        time.sleep(0.05)
    return sandbox.stats()["juhe_requests"]


@pytest.mark.parametrize("how", ["dropped", "closed", "with", "break"])
def test_a_consumer_that_stops_stops_the_batch(sandbox, fixtures, how):
    client = sandbox.client(faults="delay=200")
    images = receipts(fixtures, 30)
    jobs = 2
    if how == "dropped":
        results = client.recognize_many(images, jobs=jobs, cache=False)
        next(results)
        del results
    elif how == "closed":
        results = client.recognize_many(images, jobs=jobs, cache=False)
        next(results)
        results.close()
    elif how == "with":
        with client.recognize_many(images, jobs=jobs, cache=False) as results:
            next(results)
    else:
        for _item in client.recognize_many(images, jobs=jobs, cache=False):
            break
    assert settle(sandbox) <= jobs + 1


def test_a_consumer_that_only_pauses_holds_the_batch_at_one_image_per_job(sandbox, fixtures):
    client = sandbox.client()
    images = receipts(fixtures, 30)
    results = client.recognize_many(images, jobs=3, cache=False)
    next(results)
    assert settle(sandbox) <= 3 + 1
    assert len(list(results)) == 29
    assert sandbox.stats()["juhe_requests"] == 30


def test_ctrl_c_drains_the_calls_in_flight_then_raises(sandbox, fixtures):
    # The test sets the handler it depends on: a shell may have started it with SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        client = sandbox.client(faults="delay=300")
        images = receipts(fixtures, 40)
        results = client.recognize_many(images, jobs=4)
        got = [next(results)]
        threading.Timer(0.05, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            for item in results:
                got.append(item)
        # The calls that were in flight finished; their items come after the interrupt.
        got.extend(results)
    finally:
        signal.signal(signal.SIGINT, previous)
    answered = [i for i in images if sandbox.image_requests(i)[1]]
    assert {id(item.input) for item in got} == {id(i) for i in answered}
    assert all(item.result is not None for item in got)
    assert len(got) < 40
    assert settle(sandbox, 0.5) == len(answered), "nothing sent after the interrupt's calls"
    summary = results.summary
    assert summary is not None and summary.cancelled
    assert summary.succeeded == len(got) and summary.not_started == 40 - len(got)
    # Their answers are in the user's cache: a rerun pays only for the rest.
    again = list(client.recognize_many(images, jobs=4))
    assert sum(1 for i in again if i.result.cached) == len(got)
    assert sandbox.stats()["juhe_requests"] == 40


def test_the_same_bytes_twice_are_sent_once_with_the_default_cache(sandbox, fixtures):
    image = (fixtures / "receipt.png").read_bytes()
    client = sandbox.client(faults="delay=100")
    items = list(client.recognize_many([image, image, bytes(image)], jobs=3))
    assert all(i.result is not None for i in items)
    assert sandbox.image_requests(image) == (1, 1)
    assert sorted(i.result.cached for i in items) == [False, True, True]
    # A second batch, another client of the same endpoint: nothing sent.
    list(sandbox.client(faults="delay=100").recognize_many([image], jobs=1))
    assert sandbox.image_requests(image) == (1, 1)


def test_a_budget_caps_the_requests_and_the_summary_says_so(sandbox, fixtures):
    client = sandbox.client()
    images = receipts(fixtures, 30)
    results = client.recognize_many(images, jobs=4, max_requests=10, cache=False)
    items = list(results)
    assert len(items) == 10 and sandbox.stats()["juhe_requests"] == 10
    summary = results.summary
    assert summary == piaoju.BatchSummary(
        total=30, succeeded=10, failed=0, cached=0, not_started=20, requests=10,
        possibly_billed_requests=10, refused_requests=0, possibly_billed_failures=0,
        cancelled=False, budget_spent=True, cache_failures=0, cache_error=None,
        wall_seconds=summary.wall_seconds,
    )
    with pytest.raises(piaoju.UsageError):
        client.recognize_many(images, max_requests=0)


def test_a_provider_limit_is_learned(sandbox, fixtures):
    client = sandbox.client(faults="rate_limit=5")
    images = receipts(fixtures, 20)
    results = client.recognize_many(images, jobs=8, cache=False)
    items = list(results)
    assert all(i.result is not None for i in items), [i.error for i in items if i.error]
    summary = results.summary
    assert summary.possibly_billed_requests == 20
    assert summary.requests == 20 + summary.refused_requests
    assert summary.refused_requests <= 20


def test_cache_arguments(sandbox, fixtures, tmp_path):
    image = (fixtures / "receipt.png").read_bytes()
    client = sandbox.client()
    own = tmp_path / "own.sqlite"
    list(client.recognize_many([image], cache=own))
    assert own.exists()
    assert [i.result.cached for i in client.recognize_many([image], cache=own)] == [True]
    assert [i.result.cached for i in client.recognize_many([image], cache=False)] == [False]
    with pytest.raises(piaoju.UsageError):
        client.recognize_many([image], cache=True)
    with pytest.raises(piaoju.UsageError) as e:
        client.recognize_many([image], kind="receipts")
    assert e.value.code == 100


def test_an_exception_in_on_progress_loses_no_item(sandbox, fixtures):
    calls = []

    def progress(p):
        calls.append(p["done"])
        if len(calls) == 1:
            raise RuntimeError("a bug in the progress bar")

    results = sandbox.client().recognize_many(receipts(fixtures, 5), jobs=2, cache=False,
                                              on_progress=progress)
    with pytest.raises(RuntimeError):
        next(results)
    assert len(list(results)) == 5
