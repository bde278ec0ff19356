"""`solsentry finetune crossdata`: the cross-dataset tables of docs/benchmarks.md in one command."""

from __future__ import annotations

import json
from pathlib import Path

import click

from finetune.cli_support import DEFAULT_RECIPE, _fail, _load


@click.command("crossdata")
@click.option("--dataset", "datasets", required=True, multiple=True, nargs=3,
              type=(str, click.Path(path_type=Path, file_okay=False, exists=True),
                    click.Path(path_type=Path, dir_okay=False, exists=True)),
              metavar="FORMAT DIR REPORT",
              help="A labelled dataset, twice: its format (see `solsentry eval --help`), its directory, and "
                   "the `solsentry audit --review none --format json` report of its sources.")
@click.option("--recipe", "recipe_path", default=str(DEFAULT_RECIPE), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False))
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Run directory.")
def crossdata_cmd(datasets: tuple, recipe_path: Path, folds: int, out: Path) -> None:
    """k-fold within each of two datasets, then each dataset's model scored on the other.

    Writes OUT/crossdata.json and OUT/crossdata.md; OUT/kfold-NAME/crossval.json and
    OUT/transfer-NAME/model are what `solsentry finetune ship` takes.
    """
    from auditor.errors import AuditorError
    from finetune import crossdata as xd
    from finetune.errors import FinetuneError
    from finetune.recipe import load_recipe

    if len(datasets) != 2:
        raise click.UsageError("give --dataset exactly twice (FORMAT DIR REPORT each)")
    try:
        recipe = load_recipe(recipe_path)
        bundles = []
        for fmt, directory, report_path in datasets:
            dataset, report = _load(directory, fmt, report_path)
            bundles.append(xd.Bundle.build(dataset.name, dataset, report))
        experiments, thresholds = [], {}
        for b in bundles:
            click.echo(f"== {folds}-fold within {b.name}")
            kdir = out / f"kfold-{b.name}"
            thresholds[b.name], doc = xd.kfold(b, recipe, folds, kdir, log=click.echo)
            (kdir / "crossval.json").write_text(json.dumps(
                {"folds": folds, "thresholds": thresholds[b.name], "triage": doc["triage"], "scores": doc["scores"]},
                indent=2) + "\n")
            experiments.append(doc)
        for src, dst in ((bundles[0], bundles[1]), (bundles[1], bundles[0])):
            click.echo(f"== trained on {src.name}, scored on {dst.name}")
            _, doc = xd.transfer(src, dst, recipe, thresholds[src.name], out / f"transfer-{src.name}",
                                 log=click.echo)
            experiments.append(doc)
    except (FinetuneError, AuditorError) as exc:
        raise _fail(exc) from None
    (out / "crossdata.json").write_text(json.dumps({"recipe": str(recipe_path), "folds": folds,
                                                    "experiments": experiments}, indent=2) + "\n")
    (out / "crossdata.md").write_text(xd.markdown(experiments))
    for doc in experiments:
        click.echo(xd.headline(doc))
