"""Cross-dataset evaluation of the review model: k folds within each labelled dataset, then a model
trained on all of one dataset scored on the other (SmartBugs <-> SWC registry), tools-only next to
tools + model, by DASP class and by SWC id, with the audit's own code (`EncoderReviewer.score` and
`decide`) and the `solsentry eval` protocol.

Thresholds are never chosen on the data they are scored on: the k-fold run of a dataset chooses
them from its out-of-fold scores, and its transfer model (trained on all of it) scores the other
dataset with those thresholds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from auditor.evaluation.dataset import LabelledDataset
from auditor.evaluation.rendering import to_json
from auditor.evaluation.results import EvalScores
from auditor.report.model import Report
from auditor.review.encoder import EncoderReviewer
from finetune import crossval as cvm
from finetune.data import FindingExample, FunctionExample, finding_examples, function_examples
from finetune.recipe import ReviewRecipe
from finetune.review import Log, train


@dataclass
class Bundle:
    """One labelled dataset, its tools-only audit report, and the examples built from the two."""

    name: str
    dataset: LabelledDataset
    report: Report
    funcs: list[FunctionExample]
    findings: list[FindingExample]

    @classmethod
    def build(cls, name: str, dataset: LabelledDataset, report: Report) -> Bundle:
        return cls(name, dataset, report, function_examples(dataset), finding_examples(dataset, report))

    def sources(self) -> dict[str, str]:
        """Report path -> source of every compiled labelled file."""
        out = {}
        for f in self.report.files:
            path = self.dataset.resolve(f.path)
            if path is not None and f.status == "compiled":
                out[f.path] = (self.dataset.root / path).read_text(encoding="utf-8", errors="replace")
        return out


def kfold(b: Bundle, recipe: ReviewRecipe, k: int, run_dir: Path, log: Log = print) -> tuple[dict, dict]:
    """(thresholds chosen on the out-of-fold scores, the experiment's results)."""
    cv = cvm.run(b.dataset, b.report, b.funcs, b.findings, recipe, k, run_dir, log=log)
    cvm.save_scores(cv, run_dir / "oof-scores.json")
    triage = cvm.triage_threshold(cv, b.findings)
    detect, curve = cvm.choose_detect(b.dataset, b.report, cv, triage, heads=cvm.head_thresholds(b.funcs, 0.0))
    thresholds = {"triage": round(triage, 3), "detect": cvm.head_thresholds(b.funcs, detect)}
    return thresholds, summarize(b, cv, thresholds, f"{k}-fold within {b.name}") | {"detect_curve": curve}


def transfer(src: Bundle, dst: Bundle, recipe: ReviewRecipe, thresholds: dict, run_dir: Path,
             log: Log = print) -> tuple[Path, dict]:
    """Train on all of `src`, score `dst` under `src`'s thresholds. Returns (model dir, results)."""
    train(src.funcs, src.findings, recipe, run_dir, log=log)
    model_dir = run_dir / "model"
    sources = dst.sources()
    tool = [f for f in dst.report.findings if f.origin == "tool" and f.primary.file in sources]
    scores = EncoderReviewer(model_dir=model_dir).score(tool, sources)
    cv = cvm.CrossValidation(scores, sources, [])
    return model_dir, summarize(dst, cv, thresholds, f"trained on {src.name}, scored on {dst.name}")


def summarize(b: Bundle, cv: cvm.CrossValidation, thresholds: dict, title: str) -> dict:
    reviewed = cvm.reviewed_report(b.report, cv, thresholds)
    results = cvm.evaluate(b.dataset, b.report, reviewed)
    model = [f for f in reviewed.findings if f.origin == "model"]
    files = max(1, len(cv.sources))
    doc = {"title": title, "dataset": b.name, "thresholds": thresholds,
           "triage": cvm.triage_stats(reviewed, b.findings),
           "model_findings": len(model), "model_findings_per_file": round(len(model) / files, 3),
           "verdicts": _verdict_counts(reviewed),
           "scores": {k: json.loads(to_json(v)) for k, v in results.items()},
           "markdown": cvm.comparison_markdown(results), "swc_markdown": swc_markdown(results)}
    if "fixed" in b.dataset.subsets and "vulnerable" in b.dataset.subsets:
        doc["pairs"] = pair_rates(b, model)
    return doc


def _verdict_counts(report: Report) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in report.findings:
        if f.origin == "tool" and f.review is not None:
            out[f.review.label] = out.get(f.review.label, 0) + 1
    return out


def pair_rates(b: Bundle, model_findings: list) -> dict:
    """How often the model's own findings land on fixed variants against vulnerable ones: share of
    files with at least one model finding, and findings per file, in each subset."""
    out = {}
    for subset in ("vulnerable", "fixed"):
        paths = b.dataset.subsets[subset]
        hits = [b.dataset.resolve(f.primary.file) for f in model_findings]
        per = [sum(h == p for h in hits) for p in paths]
        out[subset] = {"files": len(paths), "files_flagged": sum(n > 0 for n in per),
                       "findings": sum(per), "per_file": round(sum(per) / max(1, len(paths)), 3)}
    v, f = out["vulnerable"]["per_file"], out["fixed"]["per_file"]
    out["fixed_to_vulnerable"] = round(f / v, 3) if v else None
    return out


def swc_markdown(results: dict[str, EvalScores]) -> str:
    """Per-SWC-id recall of each variant (merged column), when the dataset's labels carry SWC ids."""
    names = list(results)
    first = results[names[0]].scopes[0]
    if not first.swc:
        return ""
    lines = ["| SWC id | labels | " + " | ".join(f"{n} found" for n in names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    for swc in sorted(first.swc):
        row = [results[n].scopes[0].swc.get(swc) for n in names]
        lines.append(f"| {swc} | {first.swc[swc].labels} | "
                     + " | ".join("-" if r is None else f"{r.found.get('merged', 0)}/{r.labels}" for r in row) + " |")
    return "\n".join(lines)


def _total(doc: dict, variant: str) -> dict:
    return doc["scores"][variant]["scopes"][0]["tools"]["merged"]["total"]


def headline(doc: dict) -> str:
    t, a = _total(doc, "tools"), _total(doc, "tools+model (accepted only)")
    tri = doc["triage"]
    kept = "-" if tri["kept_share"] is None else f"{100 * tri['kept_share']:.1f} %"
    rejected = "-" if tri["rejected_share"] is None else f"{100 * tri['rejected_share']:.1f} %"
    return (f"{doc['title']}: tools P {_pct(t['precision'])} R {_pct(t['recall'])}; tools + model (accepted) "
            f"P {_pct(a['precision'])} R {_pct(a['recall'])}; triage keeps {kept} of true positives, rejects "
            f"{rejected} of false positives; {doc['model_findings_per_file']} model findings per file")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def markdown(experiments: list[dict]) -> str:
    out = ["# Review model across datasets", ""]
    out += ["| experiment | tools P | tools R | tools+model P | tools+model R | accepted P | accepted R | "
            "TP kept | FP rejected | model findings / file |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for doc in experiments:
        t, m, a = (_total(doc, v) for v in ("tools", "tools+model", "tools+model (accepted only)"))
        tri = doc["triage"]
        out.append(f"| {doc['title']} | {_pct(t['precision'])} | {_pct(t['recall'])} | {_pct(m['precision'])} | "
                   f"{_pct(m['recall'])} | {_pct(a['precision'])} | {_pct(a['recall'])} | "
                   f"{tri['kept']}/{tri['tool_true_positives']} ({_pct(tri['kept_share'])}) | "
                   f"{tri['rejected']}/{tri['tool_false_positives']} ({_pct(tri['rejected_share'])}) | "
                   f"{doc['model_findings_per_file']} |")
    for doc in experiments:
        out += ["", f"## {doc['title']}", "", f"Thresholds: `{json.dumps(doc['thresholds'])}`; verdicts on tool "
                f"findings: `{json.dumps(doc['verdicts'])}`.", ""]
        if "pairs" in doc:
            p = doc["pairs"]
            out += [f"Model-only findings per file: vulnerable variants {p['vulnerable']['per_file']} "
                    f"({p['vulnerable']['files_flagged']}/{p['vulnerable']['files']} files flagged), fixed variants "
                    f"{p['fixed']['per_file']} ({p['fixed']['files_flagged']}/{p['fixed']['files']}); fixed / "
                    f"vulnerable = {p['fixed_to_vulnerable']}.", ""]
        out += [doc["markdown"]]
        if doc["swc_markdown"]:
            out += ["By SWC id (recall):", "", doc["swc_markdown"], ""]
    return "\n".join(out) + "\n"
