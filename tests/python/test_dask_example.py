"""examples/dask_receipts.py on a distributed.LocalCluster (2 worker processes) against a sandbox:
the total rate limit holds across workers, every image is answered once, the shared cache
makes a rerun free."""

import json
import os
import subprocess
import sys

import distributed  # noqa: F401  (installed by scripts/test-all.sh: missing is a failure)

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "dask_receipts.py"


def test_the_dask_example_splits_the_rate_limit_and_shares_the_cache(sandbox, tmp_path, fixtures):
    folder = tmp_path / "receipts"
    folder.mkdir()
    base = (fixtures / "receipt.png").read_bytes()
    paths = []
    for i in range(40):
        p = folder / f"r{i:03}.png"
        p.write_bytes(base + i.to_bytes(4, "big"))
        paths.append(p)
    (folder / "notes.txt").write_text("not an image")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIAOJU_")}
    env.update(PIAOJU_JUHE_KEY=sandbox.juhe_key, PIAOJU_JUHE_BASE_URL=sandbox.url)
    cache, out = tmp_path / "shared.sqlite", tmp_path / "results.jsonl"
    command = [sys.executable, str(EXAMPLE), str(folder), "--workers", "2", "--qps", "10",
               "--cache", str(cache), "--out", str(out)]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                           cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary == {"images": 40, "recognized": 40, "failed": 0, "cached": 0, "requests": 40}
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["input"] for r in records) == sorted(str(p) for p in paths)
    assert all(r["total_amount"] == "12.50" for r in records)
    for p in paths:
        assert sandbox.image_requests(p) == (1, 1), p
    # Two workers at 5 requests a second each: no one-second window holds more than 10.
    arrivals = sandbox.arrivals()
    assert len(arrivals) == 40
    for i, start in enumerate(arrivals):
        in_window = sum(1 for t in arrivals[i:] if t < start + 1.0)
        assert in_window <= 10, (in_window, start)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again == {"images": 40, "recognized": 40, "failed": 0, "cached": 40, "requests": 0}
    assert sandbox.stats()["juhe_requests"] == 40
