"""Noise of the shipped review model on audited, deployed code (the projects in ../shared/field).

For each project: lines of own code, the model's own findings (budget: at most 1 per 1,000 lines),
and every Slither high/medium finding with the review's verdict, its reason and evidence, so a
reader can judge which are noise and whether the review called them likely false.

    .venv/bin/python benchmarks/noise_budget.py [PROJECT_DIR ...] [--json OUT] [--tools slither] [--review-model DIR]

Default projects: solmate, Uniswap v2-core and Aave v3-core under ../shared/field.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIELD = ROOT.parent / "shared" / "field"
DEFAULT = ("solmate", "uniswap-v2-core", "aave-v3-core")


def own_lines(report, root: Path) -> int:
    """Non-blank lines of the project's own compiled files (dependencies excluded)."""
    total = 0
    for f in report.files:
        if not f.dependency and f.status == "compiled":
            text = (root / f.path).read_text(encoding="utf-8", errors="replace")
            total += sum(1 for line in text.splitlines() if line.strip())
    return total


def measure(path: Path, tools: tuple[str, ...], model: Path | None = None) -> dict:
    from auditor.pipeline import AuditOptions, audit

    started = time.monotonic()
    report = audit(path, AuditOptions(tools=tools, review_model=model))
    lines = own_lines(report, path)
    model = [f for f in report.findings if f.origin == "model"]
    serious = [f for f in report.findings if f.origin == "tool" and f.severity.value in ("high", "medium")]
    rows = []
    for f in serious:
        v = f.review
        rows.append({"id": f.id, "detectors": sorted({r.detector for r in f.reporters}), "severity": f.severity.value,
                     "category": f.category.value, "where": f"{f.primary.file}:{f.primary.start_line}",
                     "function": f.primary.function, "verdict": v.label if v else None,
                     "score": v.score if v else None, "reason": v.reason if v else None,
                     "evidence": [e.detail for e in v.evidence] if v else []})
    return {"project": path.name, "own_lines": lines, "model_findings": len(model),
            "model_per_kloc": round(1000 * len(model) / max(1, lines), 3),
            "model": [{"category": f.category.value, "where": f"{f.primary.file}:{f.primary.start_line}-"
                       f"{f.primary.end_line}", "reason": f.review.reason if f.review else None} for f in model],
            "high_medium": rows, "likely_false": sum(r["verdict"] == "likely_false" for r in rows),
            "unsure": sum(r["verdict"] == "unsure" for r in rows), "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("projects", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--tools", default="slither", help="comma-separated tools (default: slither)")
    ap.add_argument("--review-model", type=Path, help="a trained review model instead of the shipped one")
    args = ap.parse_args()
    projects = args.projects or [FIELD / name for name in DEFAULT]
    results = []
    for p in projects:
        if not p.is_dir():
            print(f"skip {p}: not a directory", file=sys.stderr)
            continue
        r = measure(p.resolve(), tuple(args.tools.split(",")), args.review_model)
        results.append(r)
        print(f"{r['project']}: {r['own_lines']} own lines, {r['model_findings']} model-only findings "
              f"({r['model_per_kloc']} per 1,000 lines), {len(r['high_medium'])} Slither high/medium: "
              f"{r['likely_false']} likely false, {r['unsure']} unsure ({r['seconds']} s)")
        for m in r["model"]:
            print(f"   model  {m['category']:26s} {m['where']}: {m['reason']}")
        for row in r["high_medium"]:
            print(f"   {row['severity']:6s} {','.join(row['detectors']):28s} {row['where']} [{row['function']}] "
                  f"-> {row['verdict']} {row['score']}: {(row['evidence'] or [''])[0]}")
    lines = sum(r["own_lines"] for r in results)
    model = sum(r["model_findings"] for r in results)
    print(f"total: {lines} own lines, {model} model-only findings = {1000 * model / max(1, lines):.2f} per 1,000 lines")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
