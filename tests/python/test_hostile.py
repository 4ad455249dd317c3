"""Hostile servers (tests/hostile_cases.tsv, also run by the Rust and C suites): every case
raises its documented error within the call's deadline + 10 %."""

import threading
import time

import piaoju

from conftest import ROOT

TIMEOUT = 2.0


def cases():
    lines = (ROOT / "tests" / "hostile_cases.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


def test_every_hostile_answer_raises_its_error_within_the_deadline(sandbox, fixtures):
    image = (fixtures / "receipt.png").read_bytes()
    outcomes = {}

    def run(fault):
        client = sandbox.client(faults=fault, timeout=TIMEOUT)
        started = time.monotonic()
        try:
            client.recognize_shopping_receipt(image)
            outcomes[fault] = ("ok", time.monotonic() - started)
        except piaoju.PiaojuError as e:
            outcomes[fault] = (e.name, time.monotonic() - started)

    all_cases = cases()
    assert len(all_cases) == 12
    threads = [threading.Thread(target=run, args=(fault,)) for fault, _ in all_cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for fault, expected in all_cases:
        name, elapsed = outcomes[fault]
        assert name == expected, fault
        assert elapsed <= TIMEOUT * 1.1, (fault, elapsed)
