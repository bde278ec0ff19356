"""Load on the HTTP service: N concurrent submissions of small contracts, all polled to the end.

Usage: .venv/bin/python benchmarks/api_load.py [--audits 200] [--workers 2] [--executor local|ray]
                 [--isolation warm|fresh|both] [--review none|embedded]
For each isolation (`both`: fresh, the way before the warm pool, then warm, in one sitting), starts
`solsentry serve --insecure-dev` with its shipped settings on a fresh data folder, waits until its
audit workers are warm (/healthz), submits N distinct small contracts at once (one thread each:
each source differs, so nothing is reused or cached), polls every audit until it is done, and
prints throughput and the submission -> done latency (p50, p95). Audits are Slither-only, without
review unless `--review embedded`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCE = (ROOT / "examples" / "EtherBank.sol").read_text()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audits", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executor", choices=("local", "ray"), default="local")
    ap.add_argument("--isolation", choices=("warm", "fresh", "both"), default="both")
    ap.add_argument("--review", choices=("none", "embedded"), default="none")
    args = ap.parse_args()
    for isolation in (("fresh", "warm") if args.isolation == "both" else (args.isolation,)):
        print(json.dumps(run_once(args, isolation), indent=2), flush=True)


def run_once(args: argparse.Namespace, isolation: str) -> dict:
    data = Path(tempfile.mkdtemp(prefix="solsentry-api-bench-"))
    port_file = data / "serve.port"   # port 0: the server binds a free port itself and writes it here
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLSENTRY_")}
    env["SOLSENTRY_API_DATA_DIR"] = str(data)      # everything else as shipped
    log = open(data / "serve.log", "wb")  # noqa: SIM115 (closed at the end)
    server = subprocess.Popen([str(Path(sys.executable).parent / "solsentry"), "serve", "--port", "0",
                               "--port-file", str(port_file), "--insecure-dev", "--workers", str(args.workers),
                               "--executor", args.executor, "--isolation", isolation],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the server did not start; see {data / 'serve.log'}")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        warm_since = time.monotonic()
        while True:       # the steady state: every audit worker warm
            try:
                workers = json.loads(urllib.request.urlopen(f"{url}/healthz", timeout=5).read())["workers"]
                if workers["ready"] >= workers["size"]:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the audit workers did not start; see {data / 'serve.log'}")
            time.sleep(0.2)
        warm_s = time.monotonic() - warm_since
        submitted: dict[str, float] = {}
        finished: dict[str, float] = {}
        lock = threading.Lock()

        def submit(i: int) -> None:
            body = json.dumps({"files": {f"C{i}.sol": SOURCE + f"\n// variant {i}\n"},
                               "options": {"tools": ["slither"], "review": args.review}}).encode()
            req = urllib.request.Request(f"{url}/v1/audits", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            t = time.monotonic()
            audit_id = json.loads(urllib.request.urlopen(req, timeout=120).read())["id"]
            with lock:
                submitted[audit_id] = t

        started = time.monotonic()
        threads = [threading.Thread(target=submit, args=(i,)) for i in range(args.audits)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_in = time.monotonic() - started
        states: dict[str, str] = {}
        while len(finished) < len(submitted) and time.monotonic() - started < 3600:
            page, offset = None, 0
            while page is None or offset < page["total"]:
                page = json.loads(urllib.request.urlopen(f"{url}/v1/audits?limit=200&offset={offset}").read())
                now = time.monotonic()
                for item in page["items"]:
                    states[item["id"]] = item["status"]
                    if item["status"] in ("done", "failed"):
                        finished.setdefault(item["id"], now)
                offset += 200
            time.sleep(0.5)
        elapsed = max(finished.values()) - started
        lat = sorted(finished[i] - submitted[i] for i in submitted if i in finished)
        q = statistics.quantiles(lat, n=100)
        return {
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
            "executor": args.executor, "isolation": isolation, "review": args.review, "workers": args.workers,
            "warm_up_s": round(warm_s, 1), "audits": args.audits,
            "accepted_in_s": round(accepted_in, 2), "done": sum(s == "done" for s in states.values()),
            "failed": sum(s == "failed" for s in states.values()), "elapsed_s": round(elapsed, 1),
            "throughput_per_s": round(len(finished) / elapsed, 2), "p50_s": round(q[49], 2), "p95_s": round(q[94], 2),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
        log.close()


if __name__ == "__main__":
    main()
