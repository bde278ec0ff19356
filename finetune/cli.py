"""`solsentry finetune ...`: build training data, train and cross-validate the review model, ship it.

Registered through the `solsentry.commands` entry-point group (auditor never imports finetune).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

DEFAULT_RECIPE = Path(__file__).resolve().parent / "recipes" / "review-minilm.yaml"


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _load(dataset_dir: Path, fmt: str, report_path: Path | None):
    from auditor.evaluation.dataset import load_dataset
    from auditor.report.model import Report

    dataset = load_dataset(fmt, dataset_dir)
    report = None
    if report_path is not None:
        try:
            report = Report.model_validate_json(report_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise click.ClickException(f"{report_path} is not a SolSentry JSON report: {str(exc)[:200]}") from None
    return dataset, report


@click.group()
def finetune() -> None:
    """Train the review model: data from labelled contracts and tool findings, LoRA fine-tuning."""


@finetune.command("data")
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Labelled dataset directory (SmartBugs-curated layout).")
@click.option("--format", "fmt", default="smartbugs", show_default=True, help="Dataset format.")
@click.option("--report", "report_path", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="`solsentry audit --format json --review none` report of the dataset's sources.")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output directory.")
def data_cmd(dataset_dir: Path, fmt: str, report_path: Path, out: Path) -> None:
    """Build function and finding examples (JSONL) from a labelled dataset and a tools' report."""
    from auditor.errors import AuditorError
    from finetune.data import finding_examples, function_examples, write

    try:
        dataset, report = _load(dataset_dir, fmt, report_path)
        funcs, findings = function_examples(dataset), finding_examples(dataset, report)
    except AuditorError as exc:
        raise _fail(exc) from None
    write(out, funcs, findings)
    click.echo(f"{len(funcs)} function examples ({sum(bool(f.labels) for f in funcs)} labelled), "
               f"{len(findings)} finding examples ({sum(f.label for f in findings)} true) from "
               f"{len({f.group for f in funcs})} files -> {out}")


@finetune.command("review")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--recipe", "recipe_path", default=str(DEFAULT_RECIPE), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Run directory.")
def review_cmd(data_dir: Path, recipe_path: Path, out: Path) -> None:
    """LoRA-fine-tune the review encoder (triage + detection heads) on DATA.

    Writes OUT/model (adapter, heads, config), metrics.json, tensorboard/ and learning-curves.png.
    """
    from finetune.data import read
    from finetune.errors import FinetuneError
    from finetune.recipe import load_recipe
    from finetune.review import train

    try:
        recipe = load_recipe(recipe_path)
        funcs, findings = read(data_dir)
        _, history = train(funcs, findings, recipe, out, log=click.echo)
    except FinetuneError as exc:
        raise _fail(exc) from None
    click.echo(f"best epoch {history.best_epoch}; model in {out / 'model'}")


@finetune.command("crossval")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--format", "fmt", default="smartbugs", show_default=True)
@click.option("--report", "report_path", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--recipe", "recipe_path", default=str(DEFAULT_RECIPE), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False))
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Run directory.")
@click.option("--reuse", is_flag=True, help="Reuse OUT/oof-scores.json of an earlier run: re-choose the thresholds "
                                            "and re-score without training again.")
def crossval_cmd(data_dir: Path, dataset_dir: Path, fmt: str, report_path: Path, recipe_path: Path, folds: int,
                 out: Path, reuse: bool) -> None:
    """k-fold cross-validation by contract: tools only vs tools + model, scored like `solsentry eval`.

    Chooses the thresholds (triage: keep >= 92% of the tools' true positives; detection: the
    lowest at which precision is at least tools-only + 2 points) and writes OUT/crossval.json and
    OUT/crossval.md.
    """
    from auditor.errors import AuditorError
    from auditor.evaluation.scoring import to_json, to_markdown
    from finetune import crossval as cvm
    from finetune.data import read
    from finetune.errors import FinetuneError
    from finetune.recipe import load_recipe

    try:
        recipe = load_recipe(recipe_path)
        funcs, findings = read(data_dir)
        dataset, report = _load(dataset_dir, fmt, report_path)
        if reuse:
            if not (out / "oof-scores.json").is_file():
                raise FinetuneError(f"--reuse: {out / 'oof-scores.json'} does not exist (run without --reuse first)")
            cv = cvm.load_scores(out / "oof-scores.json", dataset, report)
            folds = len(cv.folds)
        else:
            cv = cvm.run(dataset, report, funcs, findings, recipe, folds, out, log=click.echo)
            cvm.save_scores(cv, out / "oof-scores.json")
    except (FinetuneError, AuditorError) as exc:
        raise _fail(exc) from None
    triage = cvm.triage_threshold(cv, findings)
    detect, curve = cvm.choose_detect(dataset, report, cv, triage)
    thresholds = {"triage": round(triage, 3), "detect": detect}
    reviewed = cvm.reviewed_report(report, cv, thresholds)
    results = cvm.evaluate(dataset, report, reviewed)
    stats = cvm.triage_stats(reviewed, findings)
    doc = {"folds": folds, "recipe": str(recipe_path), "thresholds": thresholds, "triage": stats,
           "detect_curve": curve, "scores": {k: json.loads(to_json(v)) for k, v in results.items()}}
    (out / "crossval.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = [f"# Cross-validation ({folds} folds by contract)\n", f"Thresholds: {thresholds}\n",
          f"Triage: {json.dumps(stats)}\n", cvm.comparison_markdown(results)]
    for name, scores in results.items():
        md += [f"\n## {name}\n", to_markdown(scores)]
    (out / "crossval.md").write_text("\n".join(md))
    for name, scores in results.items():
        for scope in scores.scopes:
            t = scope.tools["merged"].total
            click.echo(f"{name:28s} {scope.scope:10s} recall {t.found}/{t.labels} "
                       f"{100 * (t.recall or 0):.1f}%  precision {100 * (t.precision or 0):.1f}%")
    click.echo(f"triage: kept {stats['kept']}/{stats['tool_true_positives']} true positives, rejected "
               f"{stats['rejected']}/{stats['tool_false_positives']} false positives; thresholds {thresholds}")


@finetune.command("ship")
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="RUN/model of `solsentry finetune review` (trained on the whole dataset).")
@click.option("--crossval", "cv_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Run directory of `solsentry finetune crossval` (thresholds and held-out scores).")
@click.option("--to", "dest", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Destination [default: the bundled model directory, auditor/review/model].")
def ship_cmd(model_dir: Path, cv_dir: Path, dest: Path | None) -> None:
    """Install a trained model as the bundled review model, with the cross-validated thresholds
    and a model card (data, recipe, held-out scores, hash)."""
    from finetune.ship import ship

    try:
        target, model_id = ship(model_dir, cv_dir, dest)
    except (OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot ship {model_dir}: {exc}") from None
    click.echo(f"shipped {model_id} to {target}")
