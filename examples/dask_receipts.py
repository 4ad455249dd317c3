"""Recognize a folder of receipts on a Dask cluster (``distributed.LocalCluster``, worker
processes), against the sandbox unless ``PIAOJU_JUHE_KEY`` is set.

    python examples/dask_receipts.py FOLDER [--workers 2] [--qps 10] [--jobs 4]
                                            [--cache receipts.cache.sqlite] [--out results.jsonl]

How the pieces fit:

- The driver builds one ``piaoju.Client`` configuration with ``max_qps`` = the total ``--qps``
  divided by the number of workers, so the workers together never exceed it, and a ``cache``
  file that every worker process shares (SQLite in WAL mode: safe across processes). A rerun,
  or a worker that retries a partition, pays for no image already recognized.
- The client pickles as its configuration (credentials included: keep the cluster private).
  A worker plugin rebuilds it once per worker process, so each process has one client, one
  rate limiter and one connection pool, whichever tasks it runs.
- Each partition of image paths goes through ``Client.recognize_many`` (``--jobs`` calls at
  once inside the worker) and comes back as plain records: input, ok, total, cached, error.

Prints a one-line summary; writes one JSON object per image to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Any, Dict, Iterator, List, Optional

from distributed import WorkerPlugin, get_worker

import piaoju

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp"}


class PiaojuClientPlugin(WorkerPlugin):
    """Gives every worker process one piaoju client, rebuilt from its configuration when the
    plugin reaches the worker."""

    name = "piaoju"

    def __init__(self, client: piaoju.Client) -> None:
        self.client = client  # pickled as its configuration, rebuilt in the worker


def recognize_partition(paths: List[str], jobs: int) -> List[Dict[str, Any]]:
    """Runs in a worker: the partition's images through the worker's client."""
    client: piaoju.Client = get_worker().plugins[PiaojuClientPlugin.name].client
    records = []
    for item in client.recognize_many(paths, kind="shopping_receipt", jobs=jobs):
        if item.result is not None:
            records.append({
                "input": item.input, "ok": True,
                "total_amount": str(item.result.total_amount),
                "shop_name": item.result.shop_name,
                "cached": item.result.cached, "attempts": item.result.attempts,
                "checks_passed": item.result.checks_passed,
            })
        else:
            error = item.error
            records.append({
                "input": item.input, "ok": False,
                "error": {"code": error.code, "name": error.name, "message": error.message,
                          "possibly_billed": error.possibly_billed,
                          "attempts": error.attempts},
            })
    return records


def images_in(folder: pathlib.Path) -> List[str]:
    return sorted(str(p) for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in EXTENSIONS)


def configuration(sandbox: Optional[piaoju.Sandbox]) -> Dict[str, Any]:
    """The sandbox's configuration, or the Juhe key and URL from the environment."""
    if sandbox is not None:
        return sandbox.config()
    juhe: Dict[str, Any] = {"key": os.environ["PIAOJU_JUHE_KEY"]}
    if os.environ.get("PIAOJU_JUHE_BASE_URL"):
        juhe["base_url"] = os.environ["PIAOJU_JUHE_BASE_URL"]
    return {"juhe": juhe}


def run(folder: pathlib.Path, workers: int, qps: float, jobs: int, cache: pathlib.Path,
        out: Optional[pathlib.Path], sandbox: Optional[piaoju.Sandbox]) -> Dict[str, int]:
    import dask.bag as db
    from distributed import Client as DaskClient, LocalCluster

    paths = images_in(folder)
    if not paths:
        raise SystemExit(f"no images (.jpg .jpeg .png .bmp) in {folder}")
    config = configuration(sandbox)
    config["max_qps"] = qps / workers  # each worker's share of the total
    config["cache"] = {"path": str(cache.resolve())}
    client = piaoju.Client.from_config(config)

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, DaskClient(cluster) as dask:
        dask.register_plugin(PiaojuClientPlugin(client), name=PiaojuClientPlugin.name)
        partitions = max(workers * 2, len(paths) // 50)
        bag = db.from_sequence(paths, npartitions=min(partitions, len(paths)))
        records = bag.map_partitions(recognize_partition, jobs).compute()

    summary = {
        "images": len(records),
        "recognized": sum(1 for r in records if r["ok"]),
        "failed": sum(1 for r in records if not r["ok"]),
        "cached": sum(1 for r in records if r.get("cached")),
        "requests": sum(r["attempts"] if r["ok"] else r["error"]["attempts"] for r in records),
    }
    if out is not None:
        with open(out, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--qps", type=float, default=10.0, help="total requests per second")
    parser.add_argument("--jobs", type=int, default=4, help="calls at once in each worker")
    parser.add_argument("--cache", type=pathlib.Path, default=pathlib.Path("receipts.cache.sqlite"))
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args(argv)
    if args.workers < 1 or args.jobs < 1 or not args.qps > 0:
        parser.error("--workers, --jobs and --qps must be positive")
    sandbox = None if os.environ.get("PIAOJU_JUHE_KEY") else piaoju.Sandbox()
    try:
        summary = run(args.folder, args.workers, args.qps, args.jobs, args.cache, args.out,
                      sandbox)
    finally:
        if sandbox is not None:
            sandbox.close()
    print(json.dumps(summary))
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
