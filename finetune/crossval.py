"""k-fold cross-validation of the review model by contract file, scored like `solsentry eval`.

Each fold's model is trained on the other folds' files only and scores the fold's files through
the same `EncoderReviewer.score` the audit uses. The pooled out-of-fold scores then give the
reviewed report of the whole dataset, which the evaluation protocol scores next to tools-only.
Nothing here is ever measured on a file the scoring model was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from auditor.evaluation.dataset import LabelledDataset
from auditor.evaluation.results import EvalScores
from auditor.evaluation.scoring import score
from auditor.report.model import Report, summarize
from auditor.review.base import Review
from auditor.review.encoder import REVIEW_TOOL, EncoderReviewer, Scores, decide
from auditor.review.texts import CATEGORIES
from finetune.data import FindingExample, FunctionExample, group_folds
from finetune.recipe import ReviewRecipe
from finetune.review import Log, train

TRIAGE_KEEP = 0.92        # threshold rule: keep at least this share of the tools' true positives
# Detection threshold rule: precision at least tools-only + this margin. The threshold is chosen
# on the same out-of-fold scores it is reported on; the margin keeps that choice conservative.
PRECISION_MARGIN = 0.02
# ... and the model adds at most this many findings of its own per file, on average: a reader
# checks each by hand (the budget on audited code is far lower: docs/benchmarks.md, noise).
MAX_MODEL_PER_FILE = 1.0
# A class with fewer labelled functions than this in the training data is too thin to learn: its
# detection head is switched off (threshold above any score), and the model card says so.
MIN_HEAD_EXAMPLES = 10
OFF = 1.01


@dataclass
class CrossValidation:
    scores: Scores                          # pooled out-of-fold scores
    sources: dict[str, str]                 # report path -> source
    folds: list[list[str]]


def run(dataset: LabelledDataset, report: Report, funcs: list[FunctionExample], findings: list[FindingExample],
        recipe: ReviewRecipe, k: int, run_dir: Path, log: Log = print) -> CrossValidation:
    by_dataset = {}
    for f in report.files:
        path = dataset.resolve(f.path)
        if path is not None and f.status == "compiled":
            by_dataset[path] = f.path
    folds = group_folds([lf.path for lf in dataset.files], k, recipe.seed)
    pooled = Scores()
    sources: dict[str, str] = {}
    for i, fold in enumerate(folds):
        log(f"fold {i + 1}/{k}: {len(fold)} held-out files")
        fold_dir = run_dir / f"fold-{i + 1}"
        train([f for f in funcs if f.group not in fold], [f for f in findings if f.group not in fold], recipe,
              fold_dir, log=log)
        reviewer = EncoderReviewer(model_dir=fold_dir / "model")
        fold_sources = {by_dataset[p]: (dataset.root / p).read_text(encoding="utf-8", errors="replace")
                        for p in sorted(fold) if p in by_dataset}
        fold_findings = [f for f in report.findings if f.origin == "tool" and f.primary.file in fold_sources]
        s = reviewer.score(fold_findings, fold_sources)
        pooled.triage.update(s.triage)
        pooled.functions.update(s.functions)
        sources.update(fold_sources)
    return CrossValidation(pooled, sources, [sorted(f) for f in folds])


def triage_threshold(cv: CrossValidation, findings: list[FindingExample], keep: float = TRIAGE_KEEP) -> float:
    """The highest threshold that keeps at least `keep` of the tools' true positives."""
    real = sorted(cv.scores.triage[f.finding_id] for f in findings if f.label and f.finding_id in cv.scores.triage)
    if not real:
        return 0.0
    allowed = int(len(real) * (1 - keep))         # true positives we may lose
    return real[allowed]


def reviewed_report(report: Report, cv: CrossValidation, thresholds: dict, model_id: str = "crossval") -> Report:
    tool = [f for f in report.findings if f.origin == "tool"]
    review: Review = decide(tool, cv.sources, cv.scores, list(CATEGORIES), thresholds, model_id)
    findings = [f.model_copy(update={"review": review.verdicts.get(f.id)}) for f in tool] + review.findings
    return report.model_copy(update={"findings": findings, "summary": summarize(findings)})


def accepted_only(report: Report) -> Report:
    """What a reader who trusts the verdicts sees: tool findings not judged likely false (`unsure`
    ones stand) + model findings."""
    keep = [f for f in report.findings if f.review is None or f.review.label != "likely_false"]
    return report.model_copy(update={"findings": keep})


def triage_stats(report: Report, findings: list[FindingExample]) -> dict:
    labels = {f.finding_id: f.label for f in findings}
    tp = fp = tp_kept = fp_rejected = 0
    for f in report.findings:
        if f.review is None or f.id not in labels:
            continue
        if labels[f.id]:
            tp += 1
            tp_kept += f.review.label != "likely_false"
        else:
            fp += 1
            fp_rejected += f.review.label == "likely_false"
    return {"tool_true_positives": tp, "kept": tp_kept, "kept_share": tp_kept / tp if tp else None,
            "tool_false_positives": fp, "rejected": fp_rejected, "rejected_share": fp_rejected / fp if fp else None}


def evaluate(dataset: LabelledDataset, report: Report, reviewed: Report) -> dict[str, EvalScores]:
    tools = [t.name for t in report.tools]
    return {"tools": score(report, dataset, tools=tools),
            "tools+model": score(reviewed, dataset, tools=[*tools, REVIEW_TOOL]),
            "tools+model (accepted only)": score(accepted_only(reviewed), dataset, tools=[*tools, REVIEW_TOOL])}


def load_scores(path: Path, dataset: LabelledDataset, report: Report) -> CrossValidation:
    """A previous run's out-of-fold scores (to re-choose thresholds without training again)."""
    from auditor.review.source import functions

    doc = json.loads(path.read_text())
    sources: dict[str, str] = {}
    scores = Scores(triage=dict(doc["triage"]))
    for rpath, rows in doc["functions"].items():
        dpath = dataset.resolve(rpath)
        sources[rpath] = (dataset.root / dpath).read_text(encoding="utf-8", errors="replace")
        by_place = {(f.name, f.start_line, f.end_line): f for f in functions(sources[rpath])}
        scores.functions[rpath] = [(by_place[(r["name"], r["start_line"], r["end_line"])], r["scores"]) for r in rows]
    return CrossValidation(scores, sources, doc["folds"])


def save_scores(cv: CrossValidation, path: Path) -> None:
    doc = {"triage": cv.scores.triage, "functions": {
        p: [{"name": fn.name, "start_line": fn.start_line, "end_line": fn.end_line, "scores": row}
            for fn, row in rows] for p, rows in cv.scores.functions.items()}, "folds": cv.folds}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def choose_detect(dataset: LabelledDataset, report: Report, cv: CrossValidation, triage: float,
                  grid: tuple[float, ...] = tuple(x / 100 for x in range(5, 100, 5)),
                  heads: dict[str, float] | None = None) -> tuple[float, list[dict]]:
    """The lowest detection threshold at which the reviewed report (accepted findings) is at least
    as precise as the tools alone, plus PRECISION_MARGIN, over the whole dataset; the trade-off
    curve comes with it."""
    base = score(report, dataset, tools=[t.name for t in report.tools]).scope("all").tools["merged"].total
    curve, chosen = [], grid[-1]
    files = max(1, len(cv.sources))
    for d in grid:
        detect = {k: (OFF if v == OFF else d) for k, v in heads.items()} if heads else d   # thin classes stay off
        reviewed = accepted_only(reviewed_report(report, cv, {"triage": triage, "detect": detect}))
        total = score(reviewed, dataset, tools=[REVIEW_TOOL]).scope("all").tools["merged"].total
        per_file = sum(f.origin == "model" for f in reviewed.findings) / files
        curve.append({"detect": d, "recall": total.recall, "precision": total.precision,
                      "model_per_file": round(per_file, 3)})
    for point in curve:
        if (point["precision"] is not None and base.precision is not None
                and point["precision"] >= base.precision + PRECISION_MARGIN
                and point["model_per_file"] <= MAX_MODEL_PER_FILE):
            chosen = point["detect"]
            break
    return chosen, curve


def comparison_markdown(results: dict[str, EvalScores]) -> str:
    """One table per scope: per category, recall and precision of each variant (merged column)."""
    from auditor.evaluation.results import SCORED_CATEGORIES

    def cell(num: int, den: int) -> str:
        return "-" if not den else f"{num}/{den} ({100 * num / den:.1f} %)"

    names = list(results)
    out = []
    for i, scope in enumerate(next(iter(results.values())).scopes):
        rows = [f"### {scope.scope}: {scope.files} files, {scope.labels} labels", "",
                "| category | labels | " + " | ".join(f"{n} recall | {n} precision" for n in names) + " |",
                "|---|---:|" + "---:|---:|" * len(names)]
        for cat in [*(c.value for c in SCORED_CATEGORIES), "total"]:
            counts = [(results[n].scopes[i].tools["merged"].total if cat == "total"
                       else results[n].scopes[i].tools["merged"].categories[cat]) for n in names]
            if not any(c.labels or c.findings for c in counts):
                continue
            name = f"**{cat}**" if cat == "total" else cat
            rows.append(f"| {name} | {counts[0].labels} | " + " | ".join(
                f"{cell(c.found, c.labels)} | {cell(c.matching, c.findings)}" for c in counts) + " |")
        out += [*rows, ""]
    return "\n".join(out)


def head_thresholds(funcs: list[FunctionExample], detect: float) -> dict[str, float]:
    """The detection threshold per class: `detect`, or OFF for a class too thin to learn."""
    out: dict[str, float] = {"default": detect}
    for c in CATEGORIES:
        if sum(c in f.labels for f in funcs) < MIN_HEAD_EXAMPLES:
            out[c] = OFF
    return out
