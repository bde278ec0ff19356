"""`solsentry eval ...`: measure the auditor against labelled datasets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.commands.audit import RegistryChoice

if TYPE_CHECKING:
    from auditor.evaluation.results import EvalScores


def _dataset_formats() -> list[str]:
    from auditor.evaluation.dataset import LOADERS

    return list(LOADERS)


# The --format choice of the commands that load a labelled dataset (`solsentry finetune data/crossval/eval`):
# the loader registry's names, read when first needed (the registry imports pydantic; --help must not).
DATASET_FORMATS = RegistryChoice(_dataset_formats)
DATASET_FORMAT_HELP = "Dataset format: a name of the loader registry (docs/finetuning.md, Dataset formats)."


def _tool_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    tools = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    if not tools:
        raise click.BadParameter("name at least one tool", ctx=ctx, param=param)
    return tools


@click.group("eval")
def eval_group() -> None:
    """Score the auditor's findings against labelled datasets (recall, precision, F1)."""


@eval_group.command("smartbugs")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--tools", default="slither,mythril", show_default=True, callback=_tool_list,
              help="Comma-separated tools to run and score.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel jobs (default: CPU count).")
@click.option("--mythril-timeout", type=click.IntRange(min=1), default=60, show_default=True, metavar="S",
              help="Mythril execution timeout per contract, seconds.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the scores as JSON here.")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path), help="Write the score tables here.")
@click.option("--no-cache", is_flag=True, help="Re-run every tool instead of reusing cached results.")
@click.option("--from-report", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="REPORT.json",
              help="Score a saved solsentry report of DIR/dataset instead of auditing again.")
def smartbugs_cmd(directory: Path, tools: tuple[str, ...], jobs: int | None, mythril_timeout: int, out: Path | None,
                  markdown: Path | None, no_cache: bool, from_report: Path | None) -> None:
    """Audit DIR/dataset (a SmartBugs-curated checkout) and score it against its labels.

    Scored as in the ICSE 2020 study: a label is found by a finding of its category in its file
    that covers its line or starts within 2 lines of it. Tables cover all 143 files and the
    69-file ICSE 2020 subset, per tool and merged.
    """
    from auditor.evaluation.dataset import load_smartbugs
    from auditor.evaluation.rendering import to_json, to_markdown
    from auditor.evaluation.scoring import score as score_report

    if not directory.is_dir():
        raise click.BadParameter(f"{directory} is not a directory", param_hint="DIR")
    dataset = load_smartbugs(directory)  # DatasetError (an AuditorError) when it is no SmartBugs checkout
    if not dataset.audit_root.is_dir():
        raise click.BadParameter(f"{directory} has no {dataset.audit_root.name}/ directory of sources",
                                 param_hint="DIR")

    if from_report is not None:
        from auditor.report.model import Report

        report = Report.model_validate_json(from_report.read_text(encoding="utf-8"))
    else:
        from auditor.pipeline import AuditOptions, audit

        options = AuditOptions(tools=tools, jobs=jobs, mythril_timeout=mythril_timeout, use_cache=not no_cache)
        report = audit(dataset.audit_root, options)

    scores = score_report(report, dataset, tools=tools)
    _print(scores)
    if out is not None:
        out.write_text(to_json(scores) + "\n", encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    if markdown is not None:
        markdown.write_text(to_markdown(scores), encoding="utf-8")
        click.echo(f"wrote {markdown}", err=True)


def _print(scores: EvalScores) -> None:
    """Terminal tables, one per scope: a row per category and tool (the Markdown file has the wide form)."""
    from rich.console import Console
    from rich.table import Table

    from auditor.evaluation.rendering import audit_summary, scope_title
    from auditor.evaluation.results import SCORED_CATEGORIES

    def pct(num: int, den: int) -> str:
        return "-" if not den else f"{num}/{den} {100 * num / den:.1f}%"

    console = Console()
    for line in audit_summary(scores):
        console.print(line, highlight=False, soft_wrap=True)
    for scope in scores.scopes:
        table = Table("category", "labels", "tool", "recall", "precision", "F1", title=scope_title(scope),
                      title_justify="left")
        for col in (table.columns[1], *table.columns[3:]):
            col.justify = "right"
        rows = [(c.value, {t: s.categories[c.value] for t, s in scope.tools.items()}) for c in SCORED_CATEGORIES]
        rows = [(name, by_tool) for name, by_tool in rows
                if any(c.labels or c.findings for c in by_tool.values())]
        rows.append(("total", {t: s.total for t, s in scope.tools.items()}))
        for name, by_tool in rows:
            for i, (tool, c) in enumerate(by_tool.items()):
                f1 = "-" if c.f1 is None else f"{c.f1:.2f}"
                table.add_row(name if i == 0 else "", str(c.labels) if i == 0 else "", tool,
                              pct(c.found, c.labels), pct(c.matching, c.findings), f1,
                              end_section=i == len(by_tool) - 1, style="bold" if name == "total" else None)
        console.print(table)
