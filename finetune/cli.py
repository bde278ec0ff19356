"""`solsentry finetune ...`: build training data, train and cross-validate the review model, ship it.

Registered through the `solsentry.commands` entry-point group (auditor never imports finetune).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from auditor.commands.eval import DATASET_FORMAT_HELP, DATASET_FORMATS
from finetune.cli_support import DEFAULT_RECIPE, _fail, _load
from finetune.crossdata_cmd import crossdata_cmd


@click.group()
def finetune() -> None:
    """Train the review model: data from labelled contracts and tool findings, LoRA fine-tuning."""


@finetune.command("data")
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Labelled dataset directory (in the layout of --format).")
@click.option("--format", "fmt", type=DATASET_FORMATS, default="smartbugs", show_default=True, help=DATASET_FORMAT_HELP)
@click.option("--report", "report_path", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="`solsentry audit --format json --review none` report of the dataset's sources.")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output directory.")
def data_cmd(dataset_dir: Path, fmt: str, report_path: Path, out: Path) -> None:
    """Build training data (JSONL) from a labelled dataset and a tools' report: function and finding
    examples for the embedded model, instruction examples (prompt + expected answer) for `sft`."""
    from auditor.errors import AuditorError
    from finetune import sft_data
    from finetune.data import finding_examples, function_examples, write

    try:
        dataset, report = _load(dataset_dir, fmt, report_path)
        funcs, findings = function_examples(dataset), finding_examples(dataset, report)
        instructions = sft_data.build(dataset, report)
    except AuditorError as exc:
        raise _fail(exc) from None
    write(out, funcs, findings)
    sft_data.write(out, instructions)
    click.echo(f"{len(funcs)} function examples ({sum(bool(f.labels) for f in funcs)} labelled), "
               f"{len(findings)} finding examples ({sum(f.label for f in findings)} true) from "
               f"{len({f.group for f in funcs})} files, {len(instructions)} instruction examples -> {out}")


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
@click.option("--format", "fmt", type=DATASET_FORMATS, default="smartbugs", show_default=True, help=DATASET_FORMAT_HELP)
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
    from auditor.evaluation.rendering import to_json, to_markdown
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
    detect, curve = cvm.choose_detect(dataset, report, cv, triage, heads=cvm.head_thresholds(funcs, 0.0))
    thresholds = {"triage": round(triage, 3), "detect": cvm.head_thresholds(funcs, detect)}
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


@finetune.command("sft")
@click.option("--base-model", required=True, metavar="PATH_OR_HUB_ID",
              help="The causal LM to fine-tune: a local directory (or a hub id where you are online).")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Output of `solsentry finetune data` (its sft.jsonl).")
@click.option("--recipe", "recipe_path", default=str(Path(__file__).resolve().parent / "recipes"
                                                      / "sft-qwen2.5-coder-1.5b.yaml"), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Resume from the last checkpoint in OUT/checkpoints.")
@click.option("--merge", is_flag=True, help="Also write the adapter merged into the base weights to OUT/merged.")
def sft_cmd(base_model: str, data_dir: Path, recipe_path: Path, out: Path, resume: bool, merge: bool) -> None:
    """LoRA supervised fine-tuning of a code LLM on the review prompts (same template as inference).

    Writes OUT/adapter, OUT/metrics.json (loss, perplexity, finding-level F1 on held-out files),
    TensorBoard logs under OUT/checkpoints, and with --merge OUT/merged. On several GPUs run it
    under `accelerate launch --config_file finetune/accelerate/{deepspeed_zero2,fsdp}.yaml`.
    """
    from finetune import sft, sft_data
    from finetune.errors import FinetuneError
    from finetune.recipe import load_sft_recipe

    try:
        recipe = load_sft_recipe(recipe_path)
        examples = sft_data.read(data_dir)
        metrics = sft.run(base_model, examples, recipe, out, resume=resume, merge=merge, log=click.echo)
    except FinetuneError as exc:
        raise _fail(exc) from None
    shown = {k: v for k, v in metrics.items() if k != "losses"}
    click.echo(json.dumps(shown, indent=2))


@finetune.command("eval")
@click.option("--review", type=click.Choice(["llm", "embedded"]), default="llm", show_default=True)
@click.option("--model", "llm_model", default=None, metavar="PATH_OR_URL", help="With --review llm: the model.")
@click.option("--llm-adapter", default=None, metavar="DIR")
@click.option("--llm-model-name", default=None, metavar="NAME")
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--format", "fmt", type=DATASET_FORMATS, default="smartbugs", show_default=True, help=DATASET_FORMAT_HELP)
@click.option("--report", "report_path", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="`solsentry audit --review none --format json` report of the dataset's sources.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Write the scores here.")
def eval_cmd(review: str, llm_model: str | None, llm_adapter: str | None, llm_model_name: str | None,
             dataset_dir: Path, fmt: str, report_path: Path, out: Path | None) -> None:
    """Score a review model (an LLM, local or endpoint, or the embedded one) on a labelled dataset,
    next to the tools alone and the embedded model, with the `solsentry eval` protocol.

    The embedded model was trained on SmartBugs-curated: its scores there are training-data scores
    (its held-out scores come from `solsentry finetune crossval`)."""
    from auditor.errors import AuditorError
    from auditor.evaluation.rendering import to_json
    from auditor.review.base import apply_review
    from auditor.review.registry import get_reviewer
    from finetune import crossval as cvm
    from finetune.crossdata import Bundle, pair_rates, swc_markdown
    from finetune.data import finding_examples

    if review == "llm" and not llm_model:
        raise click.BadParameter("--review llm needs --model PATH_OR_URL", param_hint="--model")
    try:
        dataset, report = _load(dataset_dir, fmt, report_path)
        sources = {f.path: (dataset.audit_root / f.path).read_text(encoding="utf-8", errors="replace")
                   for f in report.files if f.status == "compiled" and not f.dependency}
        variants = {"embedded": apply_review(report, get_reviewer("embedded"), sources)}
        if review == "llm":
            variants["llm"] = apply_review(report, get_reviewer("llm", model=llm_model, adapter=llm_adapter,
                                                                model_name=llm_model_name), sources)
    except AuditorError as exc:
        raise _fail(exc) from None
    results = {"tools": cvm.evaluate(dataset, report, report)["tools"]}
    for name, reviewed in variants.items():
        scored = cvm.evaluate(dataset, report, reviewed)
        results[f"tools+{name}"] = scored["tools+model"]
        results[f"tools+{name} (accepted only)"] = scored["tools+model (accepted only)"]
        if reviewed.review is not None and reviewed.review.state != "ok":
            click.echo(f"warning: {name} review {reviewed.review.state}: {reviewed.review.message}", err=True)
    click.echo(cvm.comparison_markdown(results))
    by_swc = swc_markdown(results)
    if by_swc:
        click.echo("By SWC id (recall):\n\n" + by_swc + "\n")
    examples = finding_examples(dataset, report)
    for name, reviewed in variants.items():
        t = cvm.triage_stats(reviewed, examples)
        click.echo(f"triage ({name}): kept {t['kept']}/{t['tool_true_positives']} of the tools' true positives, "
                   f"rejected {t['rejected']}/{t['tool_false_positives']} of their false positives")
        if {"fixed", "vulnerable"} <= set(dataset.subsets):
            pr = pair_rates(Bundle(dataset.name, dataset, report, [], examples),
                            [f for f in reviewed.findings if f.origin == "model"])
            click.echo(f"model findings per file ({name}): vulnerable {pr['vulnerable']['per_file']}, fixed "
                       f"{pr['fixed']['per_file']}, fixed / vulnerable {pr['fixed_to_vulnerable']}")
    if out is not None:
        out.write_text(json.dumps({k: json.loads(to_json(v)) for k, v in results.items()}, indent=2) + "\n")


finetune.add_command(crossdata_cmd)
