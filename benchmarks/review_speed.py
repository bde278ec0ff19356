"""Review model speed on CPU: per finding (triage) and per function (detection), batched; and the
audit time of a directory with and without the review.

Usage: .venv/bin/python benchmarks/review_speed.py [DIR] [--tools slither]
DIR defaults to ../shared/datasets/smartbugs-curated/dataset. The audits use the result cache
(the first, untimed audit fills it), so the two timed audits differ by the review alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.pipeline import AuditOptions, audit  # noqa: E402
from auditor.review.encoder import EncoderReviewer  # noqa: E402
from auditor.review.source import functions  # noqa: E402
from auditor.review.texts import CATEGORIES  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", nargs="?", default=str(ROOT.parent / "shared/datasets/smartbugs-curated/dataset"))
    # Slither only by default: its results are all cached, so the two audits differ by the review
    # alone (Mythril's failed and timed-out runs are not cached and would add minutes of noise).
    ap.add_argument("--tools", default="slither")
    args = ap.parse_args()
    tools = tuple(args.tools.split(","))
    target = Path(args.directory)

    audit(target, AuditOptions(tools=tools, review="none"))           # fill the cache (untimed)
    t = time.perf_counter()
    plain = audit(target, AuditOptions(tools=tools, review="none"))
    without = time.perf_counter() - t
    t = time.perf_counter()
    reviewed = audit(target, AuditOptions(tools=tools))
    with_review = time.perf_counter() - t

    reviewer = EncoderReviewer()
    t = time.perf_counter()
    reviewer.config                                                     # noqa: B018 (loads the model)
    load_s = time.perf_counter() - t
    sources = {f.path: (target / f.path).read_text(errors="replace") for f in plain.files if f.status == "compiled"}
    judged = [f for f in plain.findings if f.category.value in CATEGORIES]
    t = time.perf_counter()
    reviewer.triage_scores(judged, sources)
    triage_s = time.perf_counter() - t
    funcs = [fn for src in sources.values() for fn in functions(src)]
    t = time.perf_counter()
    reviewer.function_scores(funcs)
    detect_s = time.perf_counter() - t
    print(json.dumps({
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
        "files": len(plain.files), "tools": list(tools),
        "audit_s_without_review": round(without, 2), "audit_s_with_review": round(with_review, 2),
        "review_s_in_audit": reviewed.review.duration_s if reviewed.review else None,
        "model_load_s": round(load_s, 2),
        "findings_judged": len(judged), "ms_per_finding": round(1000 * triage_s / max(1, len(judged)), 2),
        "functions": len(funcs), "ms_per_function": round(1000 * detect_s / max(1, len(funcs)), 2),
        "model": reviewer.model_id,
    }, indent=2))


if __name__ == "__main__":
    main()
