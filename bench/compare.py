#!/usr/bin/env python3
"""Side-by-side benchmark: what a user writes (requests + base64) against piaoju from Python
and from C, and the floor (base64 alone in Rust), against one local sandbox that answers at
once. Prints one table; asserts nothing (machines are noisy: read the ratios).

    python3 bench/compare.py [--calls N] [--no-build] [--fit-only] [--fit-runs N]

Then fitting over-limit photos (bench/photos.py makes them with Pillow, at bench time): one
whole call from Python, piaoju against Pillow doing the same job (draft(), Lanczos thumbnail,
exif_transpose, JPEG quality 92/85/75/65 until the base64 is within 6 MiB, then smaller) and
sending it with requests; client CPU and peak RSS growth of the call (median of --fit-runs
fresh processes), and the PSNR of each sent image against the same reference (Pillow's full
decode, turned upright, Lanczos-scaled to that image's size).

Installs what it needs into .venv (requests, maturin; the piaoju wheel, release build), builds
the release sandbox, libpiaoju and a small C program. Every measured case runs in a fresh
process, so that its CPU time and peak RSS are its own.
"""

import argparse
import base64
import hashlib
import json
import os
import pathlib
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"
SIZES = [("0.26 MB", 260_000), ("1.5 MB", 1_500_000), ("4.1 MB", 4_100_000)]
JUHE_KEY, APP_ID, APP_KEY = "sandbox-juhe-key", "sandbox-app-id", "sandbox-app-key"


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def setup(build):
    if not VENV_PY.exists():
        run(sys.executable, "-m", "venv", str(ROOT / ".venv"))
    run(str(VENV_PY), "-m", "pip", "install", "--quiet", "requests", "maturin>=1.9.4,<2", "pillow")
    if build:
        run("cargo", "build", "--quiet", "--release", "-p", "piaoju-sandbox", "-p", "piaoju-ffi", cwd=ROOT)
        run("cargo", "build", "--quiet", "--release", "-p", "piaoju", "--features", "bench",
            "--example", "fit_bench", cwd=ROOT)
        with tempfile.TemporaryDirectory() as dist:
            run(str(ROOT / ".venv" / "bin" / "maturin"), "build", "--quiet", "--release",
                "-m", str(ROOT / "python" / "Cargo.toml"), "--out", dist)
            wheel = next(pathlib.Path(dist).glob("piaoju-*.whl"))
            run(str(VENV_PY), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel))
    exe = ROOT / "target" / "release" / "c_bench"
    # The library's SONAME is libpiaoju.so.0 (ffi/build.rs): c_bench loads that name.
    soname = ROOT / "target" / "release" / "libpiaoju.so.0"
    if not soname.is_symlink():
        soname.symlink_to("libpiaoju.so")
    run("gcc", "-O2", "-std=c99", f"-I{ROOT / 'include'}", str(ROOT / "bench" / "c_bench.c"), "-o", str(exe),
        f"-L{ROOT / 'target' / 'release'}", "-lpiaoju", "-lpthread")
    return exe


def image_file(size, directory):
    """A JPEG header (the receipt fixture's) and random bytes: the sandbox reads headers only."""
    head = (ROOT / "tests" / "fixtures" / "receipt.jpg").read_bytes()
    rng = random.Random(size)
    path = pathlib.Path(directory) / f"image-{size}.jpg"
    path.write_bytes(head + rng.randbytes(size - len(head)))
    return path


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


# ----- workers: each runs in its own process ---------------------------------------------------

def beijing_now():
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 8 * 3600))


def worker(kind, url, path, n):
    image = pathlib.Path(path).read_bytes()
    if kind.startswith("requests"):
        import requests

        session = requests.Session()
        if kind == "requests-form":
            def call():
                r = session.post(f"{url}/shoppingReceipt/query",
                                 data={"key": JUHE_KEY, "image": base64.b64encode(image).decode()})
                return r.json()["error_code"] == 0
        else:
            nonce = os.urandom(16).hex()
            ts = beijing_now()
            sig = hashlib.sha256(f"{APP_ID}{ts}{nonce}{APP_KEY}".encode()).hexdigest()
            token = session.post(f"{url}/v1/token/access", json={
                "appId": APP_ID, "timestamp": ts, "nonce": nonce, "signMethod": "SHA256", "signature": sig,
            }).json()["accessToken"]

            def call():
                r = session.post(f"{url}/v1/brain/ocr/elecusedcarinvoice",
                                 json={"picBase64": base64.b64encode(image).decode()},
                                 headers={"Authorization": f'OPEN-ACCESS-TOKEN AccessToken="{token}"'})
                return r.json()["ErrorCode"] == 0
    else:
        import piaoju

        client = piaoju.Client(juhe_key=JUHE_KEY, juhe_base_url=url, chinaums_app_id=APP_ID,
                               chinaums_app_key=APP_KEY, chinaums_base_url=url, timeout=60)
        recognize = (client.recognize_shopping_receipt if kind == "piaoju-receipt"
                     else client.recognize_used_car_invoice)

        def call():
            return recognize(image) is not None
    assert call()  # warm up: connection, token, tables
    rss0 = rss_kb()
    c0, w0 = time.process_time(), time.perf_counter()
    ok = sum(bool(call()) for _ in range(n))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ok": ok, "cpu_ms": cpu * 1000 / n, "wall_ms": wall * 1000 / n,
                      "rss_delta_kb": max(0, peak - rss0)}))


def threads_worker(url, path, threads, calls):
    import piaoju

    image = pathlib.Path(path).read_bytes()
    client = piaoju.Client(juhe_key=JUHE_KEY, juhe_base_url=url, timeout=60)
    done = []

    def run_calls():
        for _ in range(calls):
            done.append(client.recognize_shopping_receipt(image).shop_name is not None)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=run_calls) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"ok": sum(done), "wall_s": time.perf_counter() - t0}))


# ----- fitting photos: piaoju against Pillow ---------------------------------------------------

MAX_SIDE, MAX_B64 = 4096, 6 * 1024 * 1024


def b64_len(n):
    return (n + 2) // 3 * 4


def pillow_fit(data):
    """What a Pillow user writes for Juhe's limits."""
    import io
    import math

    from PIL import Image, ImageOps

    im = Image.open(io.BytesIO(data))
    w, h = im.size
    f = min(1.0, MAX_SIDE / max(w, h))
    im.draft("RGB", (int(w * f), int(h * f)))
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    im = ImageOps.exif_transpose(im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    cur = im
    for _ in range(8):
        last = 0
        for q in (92, 85, 75, 65):
            buf = io.BytesIO()
            cur.save(buf, "JPEG", quality=q)
            last = b64_len(buf.tell())
            if last <= MAX_B64:
                return buf.getvalue()
        f = math.sqrt(MAX_B64 / last) * 0.95
        cur = im.resize((int(cur.width * f), int(cur.height * f)), Image.LANCZOS)
    raise RuntimeError("could not fit")


def fit_worker(kind, url, path, out):
    import requests

    warm = ROOT / "tests" / "fixtures" / "receipt.jpg"
    if kind == "piaoju":
        import piaoju

        client = piaoju.Client(juhe_key=JUHE_KEY, juhe_base_url=url, timeout=300)

        def call(p):
            return client.recognize_shopping_receipt(p).image["sent"]
    else:
        import tempfile as tf

        from PIL import Image

        session = requests.Session()
        warm = pathlib.Path(tf.mkdtemp()) / "warm.jpg"
        Image.new("RGB", (64, 48), (200, 100, 50)).save(warm)

        def call(p):
            jpeg = pillow_fit(pathlib.Path(p).read_bytes())
            r = session.post(f"{url}/shoppingReceipt/query",
                             data={"key": JUHE_KEY, "image": base64.b64encode(jpeg).decode()})
            assert r.json()["error_code"] == 0, r.text[:200]
            if out != "-":
                pathlib.Path(out).write_bytes(jpeg)
            return {"bytes": len(jpeg)}
    call(str(warm))  # warm up: imports, connection
    rss0 = rss_kb()
    c0 = time.process_time()
    sent = call(path)
    cpu = time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"cpu_ms": cpu * 1000, "rss_delta_kb": max(0, peak - rss0), "sent": dict(sent)}))


def psnr_worker(source, *images):
    """PSNR of each image against the source decoded whole, upright, Lanczos-scaled to it."""
    import io
    import math

    from PIL import Image, ImageChops, ImageOps

    ref = ImageOps.exif_transpose(Image.open(source)).convert("RGB")
    out = []
    for path in images:
        im = Image.open(path).convert("RGB")
        r = ref if ref.size == im.size else ref.resize(im.size, Image.LANCZOS)
        hist = ImageChops.difference(im, r).histogram()
        se = sum(n * (i % 256) ** 2 for i, n in enumerate(hist))
        mse = se / (im.width * im.height * 3)
        out.append(10 * math.log10(255 * 255 / mse) if mse else 99.0)
    print(json.dumps(out))


def fit_rows(url, tmp, runs):
    import statistics

    made = in_process("--make-photos", tmp)
    print(f"Fitting to Juhe's limits (longest side 4096 px, base64 6 MiB): one call from Python, "
          f"median of {runs} fresh processes; peak RSS is the call's growth (file read included)\n")
    header = (f"{'photo':<24} {'MB':>5} {'piaoju CPU':>10} {'Pillow CPU':>10} {'ratio':>6} "
              f"{'piaoju RSS':>10} {'Pillow RSS':>10} {'sent by piaoju':>22} {'PSNR piaoju/Pillow':>19}")
    print(header)
    print("-" * len(header))
    for label, path in made.items():
        size_mb = pathlib.Path(path).stat().st_size / 1e6
        rows = {}
        for kind in ["piaoju", "pillow"]:
            out = str(pathlib.Path(tmp) / f"pillow-{pathlib.Path(path).stem}.jpg")
            results = [in_process("--fit-worker", kind, url, path, out) for _ in range(runs)]
            rows[kind] = (statistics.median(r["cpu_ms"] for r in results),
                          statistics.median(r["rss_delta_kb"] for r in results) / 1024, results[0]["sent"])
        psnr = ""
        if "JPEG" in label and "10000" not in label:
            ours = pathlib.Path(tmp) / "piaoju"
            ours.mkdir(exist_ok=True)
            subprocess.run([str(ROOT / "target" / "release" / "examples" / "fit_bench"), "--out", str(ours), path],
                           check=True, capture_output=True)
            p, q = in_process("--psnr", path, str(ours / pathlib.Path(path).name), out)
            psnr = f"{p:.2f} / {q:.2f} dB"
        (pc, pr, sent), (qc, qr, _) = rows["piaoju"], rows["pillow"]
        sent_s = f"{sent['width']}x{sent['height']} {sent['bytes'] / 1e6:.2f} MB"
        print(f"{label:<24} {size_mb:5.1f} {pc:8.0f}ms {qc:8.0f}ms {pc / qc:6.2f} {pr:8.0f}MB {qr:8.0f}MB "
              f"{sent_s:>22} {psnr:>19}")
    print()


# ----- the driver ------------------------------------------------------------------------------

def in_process(*args):
    out = subprocess.run([str(VENV_PY), __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def connections(url):
    """Connections the sandbox has accepted, not counting the one asking."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/stats") as r:
        return json.load(r)["connections"] - 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--worker", nargs=4)
    parser.add_argument("--threads-worker", nargs=4)
    parser.add_argument("--fit-only", action="store_true")
    parser.add_argument("--fit-runs", type=int, default=3)
    parser.add_argument("--fit-worker", nargs=4)
    parser.add_argument("--make-photos")
    parser.add_argument("--psnr", nargs="+")
    args = parser.parse_args()
    if args.fit_worker:
        return fit_worker(*args.fit_worker)
    if args.make_photos:
        sys.path.insert(0, str(ROOT / "bench"))
        import photos

        return print(json.dumps(photos.make(args.make_photos)))
    if args.psnr:
        return psnr_worker(*args.psnr)
    if args.worker:
        kind, url, path, n = args.worker
        return worker(kind, url, path, int(n))
    if args.threads_worker:
        url, path, threads, calls = args.threads_worker
        return threads_worker(url, path, int(threads), int(calls))

    c_bench = setup(build=not args.no_build)
    env = dict(os.environ, LD_LIBRARY_PATH=str(ROOT / "target" / "release"))
    with tempfile.TemporaryDirectory() as tmp:
        url_file = pathlib.Path(tmp) / "url"
        sandbox = subprocess.Popen([str(ROOT / "target" / "release" / "piaoju-sandbox"), "--url-file",
                                    str(url_file), "--exit-after", "1200"], stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if url_file.exists():
                    break
                time.sleep(0.05)
            url = url_file.read_text()
            floors = {}
            out = subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "piaoju", "--features", "bench",
                                  "--example", "form_body_bench", "--", "--sizes",
                                  ",".join(str(s) for _, s in SIZES)],
                                 cwd=ROOT, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                row = json.loads(line)
                floors[row["bytes"]] = row
            config = json.dumps({"juhe": {"key": JUHE_KEY, "base_url": url}, "timeout_ms": 60000})
            cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                        if line.startswith("model name")), "?")
            print(f"machine: {cpu}, {os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}; "
                  f"load average {os.getloadavg()[0]:.2f} at the start; sandbox at {url}\n")
            fit_rows(url, tmp, args.fit_runs)
            if args.fit_only:
                return
            print(f"{args.calls} calls a case after one warm-up\n")
            header = f"{'image':<8} {'client':<34} {'CPU ms/call':>12} {'wall ms/call':>13} {'peak RSS +MB':>13} {'CPU vs requests':>16}"
            print(header)
            print("-" * len(header))
            for label, size in SIZES:
                path = image_file(size, tmp)
                rows = []
                for name, kind in [("requests + base64 (form, Juhe)", "requests-form"),
                                   ("requests + base64 (JSON, ChinaUMS)", "requests-json"),
                                   ("piaoju Python (Juhe)", "piaoju-receipt"),
                                   ("piaoju Python (ChinaUMS)", "piaoju-invoice")]:
                    r = in_process("--worker", kind, url, str(path), str(args.calls))
                    assert r["ok"] == args.calls, (kind, r)
                    rows.append((name, r["cpu_ms"], r["wall_ms"], r["rss_delta_kb"] / 1024))
                c = json.loads(subprocess.run([str(c_bench), "calls", config, str(path), str(args.calls)], env=env,
                                              check=True, capture_output=True, text=True).stdout)
                assert c["ok"] == args.calls, c
                rows.append(("piaoju C (Juhe)", c["cpu_ms"], c["wall_ms"], None))
                f = floors[size]
                rows.append(("floor: base64 alone (Rust)", f["floor_ms"], None, None))
                rows.append(("piaoju Juhe body alone (Rust)", f["body_ms"], None, None))
                rows.append(("piaoju ChinaUMS body alone (Rust)", f["json_body_ms"], None, None))
                for name, cpu, wall, rss in rows:
                    # Each piaoju row against the requests row for the same request.
                    base = rows[1][1] if "ChinaUMS" in name else rows[0][1]
                    wall_s = f"{wall:13.2f}" if wall is not None else f"{'':>13}"
                    rss_s = f"{rss:13.1f}" if rss is not None else f"{'':>13}"
                    ratio = f"{base / cpu:15.1f}x" if name.startswith("piaoju") and "body" not in name else f"{'':>16}"
                    if "alone" in name and "floor" not in name:
                        ratio = f"{cpu / f['floor_ms']:10.2f}x floor"
                    print(f"{label:<8} {name:<34} {cpu:12.2f} {wall_s} {rss_s} {ratio}")
                print()

            # Threads sharing one client at 200 ms service latency (P4).
            path = image_file(260_000, tmp)
            delayed = f"{url}/fault/delay=200"
            threads, calls = 8, 5
            ideal = threads * calls * 0.2 / threads
            before = connections(url)
            py = in_process("--threads-worker", delayed, str(path), str(threads), str(calls))
            py_conns = connections(url) - before - 1  # less the earlier /stats request
            before = connections(url)
            cfg = json.dumps({"juhe": {"key": JUHE_KEY, "base_url": delayed}, "timeout_ms": 60000})
            cr = json.loads(subprocess.run([str(c_bench), "threads", cfg, str(path), str(threads), str(calls)],
                                           env=env, check=True, capture_output=True, text=True).stdout)
            c_conns = connections(url) - before - 1
            print(f"{threads} threads x {calls} calls sharing one client, service latency 200 ms "
                  f"(ideal wall {ideal:.2f} s):")
            for name, r, conns in [("Python", py, py_conns), ("C", cr, c_conns)]:
                print(f"  {name:<7} wall {r['wall_s']:.2f} s = {100 * ideal / r['wall_s']:.0f} % of ideal throughput, "
                      f"{conns} connections opened, {r['ok']}/{threads * calls} ok")
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
