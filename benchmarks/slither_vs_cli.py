"""Slither-only audit of a directory vs. `slither FILE --solc ... --json -` once per file.

Usage: .venv/bin/python benchmarks/slither_vs_cli.py [DIR] [--jobs N] [--limit N]
(DIR defaults to ../shared/datasets/smartbugs-curated/dataset). Both sides use the same
compilers (the provider's choice per file, resolved before timing). SolSentry runs twice
with an empty result cache: cold, then the unchanged re-run. Prints the timings, the
speed-ups and whether both found the same Slither findings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "datasets" / "smartbugs-curated" / "dataset"


def cli_run(files: list[Path], root: Path, solcs: dict[Path, str]) -> tuple[float, set, int]:
    exe = Path(sys.executable).parent / "slither"
    found, failures = set(), 0
    started = time.perf_counter()
    for f in files:
        if f not in solcs:
            continue
        out = subprocess.run([str(exe), str(f), "--solc", solcs[f], "--json", "-"], capture_output=True,
                             text=True, cwd=root)
        try:
            data = json.loads(out.stdout)
        except ValueError:
            failures += 1
            continue
        if not data.get("success"):
            failures += 1
            continue
        for r in data.get("results", {}).get("detectors", []):
            el = next((e for e in r["elements"] if e.get("source_mapping", {}).get("lines")), None)
            if el is None:
                continue
            rel = os.path.relpath(el["source_mapping"]["filename_absolute"], root)
            lines = el["source_mapping"]["lines"]
            found.add((rel, r["check"], min(lines), max(lines)))
    return time.perf_counter() - started, found, failures


def solsentry_run(root: Path, jobs: int | None) -> tuple[float, set, object]:
    from auditor.pipeline import AuditOptions, audit

    started = time.perf_counter()
    report = audit(root, AuditOptions(tools=("slither",), jobs=jobs))
    elapsed = time.perf_counter() - started
    found = set()
    for f in report.findings:
        for rep in f.reporters:
            if rep.tool == "slither":
                for loc in f.locations:
                    found.add((loc.file, rep.detector, loc.start_line, loc.end_line))
    return elapsed, found, report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None, help="only the first N files (a quick look)")
    args = ap.parse_args()
    root = args.dir.resolve()
    if args.limit:
        tmp = Path(tempfile.mkdtemp(prefix="bench-subset-"))
        for f in sorted(root.rglob("*.sol"))[: args.limit]:
            dest = tmp / f.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
        root = tmp
    os.environ["SOLSENTRY_RESULTS_DIR"] = tempfile.mkdtemp(prefix="bench-results-")

    from auditor.solc.provider import SolcProvider
    from auditor.targets import load_target

    target = load_target(root)
    provider = SolcProvider()
    solcs = {}
    for f in target.sources:
        try:
            solcs[f] = str(provider.for_files([f]).path)
        except Exception as exc:  # an impossible pragma: both sides skip the file
            print(f"skip {f.name}: {exc}", file=sys.stderr)

    cli_s, cli_found, cli_failures = cli_run(target.sources, root, solcs)
    cold_s, cold_found, report = solsentry_run(root, args.jobs)
    warm_s, warm_found, _ = solsentry_run(root, args.jobs)
    failed = sum(r.state != "ok" for r in report.tool_runs)
    # Every finding of the CLI is a finding (detector + place) of SolSentry's report.
    missing = cli_found - cold_found
    print(json.dumps({
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "files": len(target.sources),
        "jobs": args.jobs or os.cpu_count(),
        "cli_sequential_s": round(cli_s, 1),
        "cli_failed_files": cli_failures,
        "solsentry_cold_s": round(cold_s, 1),
        "solsentry_rerun_s": round(warm_s, 2),
        "speedup_cold": round(cli_s / cold_s, 1),
        "speedup_rerun": round(cli_s / warm_s, 1),
        "solsentry_failed_runs": failed,
        "cli_findings": len(cli_found),
        "cli_findings_missing_in_solsentry": len(missing),
        "rerun_identical": cold_found == warm_found,
        "missing_examples": sorted(missing)[:10],
    }, indent=2))


if __name__ == "__main__":
    main()
