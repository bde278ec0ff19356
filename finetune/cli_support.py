"""What the `solsentry finetune` commands share: the default recipe, error mapping, and loading a
labelled dataset with its report (so command modules need not import each other)."""

from __future__ import annotations

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
