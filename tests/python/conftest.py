import os
import pathlib

import pytest

import piaoju

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def no_piaoju_environment(monkeypatch, tmp_path_factory):
    for name in list(os.environ):
        if name.startswith("PIAOJU_"):
            monkeypatch.delenv(name)
    # Batches use the user's result cache by default: never the real user's here.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))


def default_sigint():
    """For a child process: SIGINT as a fresh shell gives it (a test started from a background
    shell inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def fixtures():
    return FIXTURES


@pytest.fixture
def sandbox():
    with piaoju.Sandbox() as sb:
        yield sb
