import os
import pathlib

import pytest

import piaoju

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def no_piaoju_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PIAOJU_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def fixtures():
    return FIXTURES


@pytest.fixture
def sandbox():
    with piaoju.Sandbox() as sb:
        yield sb
