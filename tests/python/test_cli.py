"""The wheel's ``piaoju`` console script: the same command as the Rust binary (batch included),
and Ctrl-C through Python's signal handling."""

import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import piaoju
from conftest import default_sigint

SCRIPT = pathlib.Path(sys.executable).parent / "piaoju"


def images(tmp_path, fixtures, n):
    folder = tmp_path / "images"
    folder.mkdir()
    base = (fixtures / "receipt.png").read_bytes()
    out = []
    for i in range(n):
        p = folder / f"r{i:03}.png"
        p.write_bytes(base + i.to_bytes(4, "big"))
        out.append(p)
    return folder, out


def env_for(sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIAOJU_")}
    env["PIAOJU_JUHE_KEY"] = sandbox.juhe_key
    env["PIAOJU_JUHE_BASE_URL"] = sandbox.url
    return env


def test_the_console_script_is_installed_and_runs_a_batch(tmp_path, fixtures):
    assert SCRIPT.exists(), SCRIPT
    folder, paths = images(tmp_path, fixtures, 5)
    out = tmp_path / "results.jsonl"
    done = subprocess.run(
        [str(SCRIPT), "batch", "receipt", str(folder), "--sandbox", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["input"] for line in lines) == sorted(str(p) for p in paths)
    assert all(line["ok"] and line["result"]["total_amount"] == "12.50" for line in lines)
    assert "5 images: 5 recognized" in done.stderr
    # The user's cache, whatever the output's name.
    assert (pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "piaoju" / "results.sqlite").exists()


def test_python_m_piaoju_and_usage_errors(fixtures):
    done = subprocess.run(
        [sys.executable, "-m", "piaoju", "receipt", str(fixtures / "receipt.png"), "--sandbox"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_amount"] == "12.50"
    bad = subprocess.run([str(SCRIPT), "batch", "receipt", "nowhere.png"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "nowhere.png" in bad.stderr
    version = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"piaoju {piaoju.__version__}"


def test_the_sandbox_counts_requests_per_image(sandbox, fixtures):
    image = (fixtures / "receipt.png").read_bytes()
    client = sandbox.client()
    client.recognize_shopping_receipt(image)
    client.recognize_shopping_receipt(image)
    assert sandbox.image_requests(image) == (2, 2)
    assert sandbox.image_requests(fixtures / "receipt.png") == (2, 2)
    assert sandbox.image_requests(b"never sent") == (0, 0)
    digest = hashlib.sha256(image).hexdigest()
    assert sandbox.stats()["images"] == {digest: {"received": 2, "answered": 2}}


def stop_the_console_script(sandbox, tmp_path, fixtures, signum):
    """Start a 30-image batch, send ``signum`` once 3 images are answered: the exit status and
    stderr; every answered image (and only those) must be in the results."""
    sandbox.set_faults("delay=300")
    folder, paths = images(tmp_path, fixtures, 30)
    out = tmp_path / "results.jsonl"
    child = subprocess.Popen(
        [str(SCRIPT), "batch", "receipt", str(folder), "--jobs", "3", "--out", str(out)],
        env=env_for(sandbox), stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint,
    )
    try:
        deadline = time.monotonic() + 30
        while sum(1 for p in paths if sandbox.image_requests(p)[1]) < 3:
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        child.send_signal(signum)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    written = {json.loads(line)["input"] for line in out.read_text().splitlines()}
    answered = {str(p) for p in paths if sandbox.image_requests(p)[1]}
    assert written == answered
    assert 3 <= len(written) < 30
    return child.returncode, err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_on_the_console_script_writes_the_finished_results_and_exits_130(
        sandbox, tmp_path, fixtures):
    status, err = stop_the_console_script(sandbox, tmp_path, fixtures, signal.SIGINT)
    assert status == 130, err
    assert "interrupted" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_on_the_console_script_writes_the_finished_results_and_exits_143(
        sandbox, tmp_path, fixtures):
    status, err = stop_the_console_script(sandbox, tmp_path, fixtures, signal.SIGTERM)
    assert status == 143, err
    assert "SIGTERM" in err
