"""`solsentry audit PATH`: analyze a contract, directory or project and report."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import click


class RegistryChoice(click.Choice):
    """A Choice whose names a registry gives when they are first needed: the report-format and
    reviewer registries import pydantic and the formats, which `solsentry --help` must not."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._names())

    @choices.setter
    def choices(self, _value: object) -> None:   # click's __init__ assigns; the registry decides
        pass


def _format_names() -> list[str]:
    from auditor.report.registry import format_names

    return list(format_names())


def _default_tools() -> str:
    from auditor.tools.registry import TOOL_NAMES

    return ",".join(TOOL_NAMES)


def _review_names() -> list[str]:
    from auditor.review.registry import REVIEW_NAMES

    return list(REVIEW_NAMES)


# The choices come from the registries (report formats, tools, reviewers).
FORMATS = RegistryChoice(_format_names)
REVIEWS = RegistryChoice(_review_names)


def _tools(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(t.strip().lower() for t in value.split(",") if t.strip()))
    if not names:
        raise click.BadParameter("give at least one tool", param_hint="--tools")
    from auditor.tools.registry import tool_names

    known = tool_names()
    bad = [n for n in names if n not in known]
    if bad:
        raise click.BadParameter(f"unknown tool {', '.join(bad)} (available: {', '.join(known)})",
                                 param_hint="--tools")
    return names


@click.command("audit")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--tools", "tools", default=_default_tools, show_default=True,
              help="Comma-separated tools to run.")
@click.option("--format", "fmt", type=FORMATS, default=None,
              help="Report format written to --out (or stdout); default: terminal summary only "
                   "(with --out: guessed from its extension, else json).")
@click.option("--out", type=click.Path(path_type=Path), help="Write the report to FILE.")
@click.option("--fail-on", type=click.Choice(["high", "medium", "low", "none"]), default="high",
              show_default=True, help="Exit 1 when a counted finding is at or above this severity.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Parallel workers [default: CPUs].")
@click.option("--mythril-timeout", type=click.IntRange(min=1), default=None,
              help="Mythril execution time budget per contract, seconds [default: 60].")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Findings accepted in this baseline file do not count.")
@click.option("--write-baseline", type=click.Path(path_type=Path),
              help="Accept every current finding: write them to FILE as a baseline.")
@click.option("--include-dependencies", is_flag=True, help="Also report findings in dependencies.")
@click.option("--include-tests", is_flag=True, help="Also analyze test and script contracts.")
@click.option("--no-cache", is_flag=True, help="Analyze again even when results are cached.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              metavar="FILE", help="Use this config file instead of the project's solsentry.toml / pyproject.toml.")
@click.option("--no-config", is_flag=True, help="Ignore the project's config file (docs/configuration.md).")
@click.option("--review", type=REVIEWS, default=lambda: _review_names()[0], show_default=True,
              help="Review: 'embedded' (bundled encoder) or 'llm' (a generative model, --model) judges each finding "
                   "and adds model-only findings; 'none' turns it off.")
@click.option("--model", "llm_model", default=None, metavar="PATH_OR_URL",
              help="With --review llm: a local model directory (or hub id), or an OpenAI-compatible base URL.")
@click.option("--llm-adapter", default=None, metavar="DIR", help="With --review llm: a peft adapter for a local model.")
@click.option("--llm-model-name", default=None, metavar="NAME",
              help="With --review llm and a URL: the model name the endpoint serves.")
@click.option("--review-model", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              metavar="DIR", help="A trained review model directory instead of the bundled one.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Run the per-file stages in local processes or as Ray tasks (large repositories).")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="With --executor ray: the cluster (e.g. ray://head:10001); default: a new local instance.")
@click.option("--allow-path", "allow_paths", multiple=True, metavar="DIR",
              type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Let imports read this directory outside the project (repeatable; see docs/security.md).")
@click.option("--diff", "diff_ref", default=None, metavar="REF",
              help="PR mode: report only findings that are not at git commit REF of PATH's repository.")
@click.option("--diff-from", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="REPORT",
              help="PR mode: report only findings that are not in REPORT (a JSON report of solsentry audit).")
@click.option("--quiet", "-q", is_flag=True, help="No summary table and no progress.")
def audit_cmd(path: Path, tools: str, fmt: str | None, out: Path | None, fail_on: str, jobs: int | None,
              config_file: Path | None, no_config: bool,
              mythril_timeout: int | None, baseline: Path | None, write_baseline: Path | None,
              include_dependencies: bool, include_tests: bool, no_cache: bool, review: str, llm_model: str | None,
              llm_adapter: str | None, llm_model_name: str | None, review_model: Path | None, executor: str,
              ray_address: str | None, allow_paths: tuple[Path, ...], quiet: bool,
              diff_ref: str | None = None, diff_from: Path | None = None) -> None:
    """Audit PATH (a .sol file, a directory, or a Hardhat/Foundry/Truffle project).

    Exit 0: nothing at or above --fail-on; 1: there is; 2: usage or analysis error.
    --fail-on counts every unsuppressed tool finding, whatever the review model's verdict;
    findings of the review model alone are advisory and never counted.
    """
    from rich.console import Console
    from rich.markup import escape

    from auditor import diff
    from auditor.pipeline import AuditOptions, audit
    from auditor.project_config import merge_cli
    from auditor.report.controls import visible
    from auditor.report.model import fails
    from auditor.report.registry import get_format
    from auditor.report.terminal import render_summary
    from auditor.suppress import write_baseline as save_baseline

    merged = merge_cli(click.get_current_context())   # the config file, under the flags given explicitly
    tools, fail_on, review, mythril_timeout = merged.tools, merged.fail_on, merged.review, merged.mythril_timeout
    names = _tools(tools)
    if review == "llm" and not (llm_model or os.environ.get("SOLSENTRY_LLM_MODEL")):
        raise click.BadParameter("--review llm needs --model PATH_OR_URL (or SOLSENTRY_LLM_MODEL)",
                                 param_hint="--model")
    if review != "llm" and (llm_model or llm_adapter or llm_model_name):
        raise click.BadParameter("--model, --llm-adapter and --llm-model-name go with --review llm",
                                 param_hint="--review")
    if fmt is None and out is not None:
        fmt = _format_for(out)
    # Before the audit, which may take minutes: a report that cannot be written is a usage error.
    _check_writable(out, "the report")
    _check_writable(write_baseline, "the baseline")
    err = Console(stderr=True)
    options = AuditOptions(tools=names, jobs=jobs, mythril_timeout=mythril_timeout, use_cache=not no_cache,
                           include_dependencies=include_dependencies, include_tests=include_tests,
                           baseline=baseline, review=review, review_model=review_model, llm_model=llm_model,
                           llm_adapter=llm_adapter, llm_model_name=llm_model_name, executor=executor,
                           ray_address=ray_address, allow_paths=tuple(str(p.resolve()) for p in allow_paths),
                           **merged.options)
    base = diff.prepare(path, diff_ref, diff_from)   # PR mode: the base is checked before the audit
    report = audit(path, options) if quiet or not err.is_terminal else _with_progress(path, options, err)

    if report.review is not None and report.review.state != "ok":
        r = report.review
        err.print(f"[yellow]warning:[/yellow] the review step {r.state}; unreviewed: {escape(visible(r.message))}",
                  markup=True, highlight=False)
    if write_baseline is not None:
        n = save_baseline(report.findings, write_baseline)
        err.print(f"baseline: {n} finding(s) accepted in {write_baseline}")
    if base is not None:    # after --write-baseline, which accepts every current finding
        report = diff.apply(report, base, options)
    if fmt is not None:
        text = get_format(fmt).render(report)
        if out is not None:
            out.write_text(text, encoding="utf-8")
            err.print(f"report ({fmt}) written to {out}")
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if not quiet:
        render_summary(report, Console(stderr=fmt is not None and out is None))
    own = [f for f in report.files if not f.dependency]
    broken = [f for f in own if f.status == "error"]
    if broken:
        # An audit that skipped files is incomplete: passing --fail-on on it would be a false all-clear.
        what = "nothing could be analyzed" if len(broken) == len(own) else (
            f"{len(broken)} of {len(own)} files could not be analyzed (the report covers the rest)")
        errors = "\n".join(f"  {visible(f.path)}: {visible(f.error)}" for f in broken)   # no raw ESC & co
        err.print(f"[red]error:[/red] {what}:", markup=True, highlight=False)
        err.print(errors, markup=False, highlight=False)
        sys.exit(2)
    if report.tool_runs and not any(r.state == "ok" for r in report.tool_runs):
        err.print("[red]error:[/red] every tool run failed; see the tool status above", markup=True)
        sys.exit(2)
    sys.exit(1 if fails(report, fail_on) else 0)


def _check_writable(path: Path | None, what: str) -> None:
    """One line naming the problem (exit 2 through auditor.cli), never a traceback after the audit."""
    from auditor.errors import AuditorError

    if path is None:
        return
    folder = path.parent
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif not folder.exists():
        problem = f"directory {folder} does not exist"
    elif not folder.is_dir():
        problem = f"{folder} is not a directory"
    else:
        # Tried, not inferred from mode bits: root ignores those, a read-only mount does not.
        try:
            if path.exists():
                open(path, "a").close()      # appends nothing: the file stays as it is
            else:
                tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            problem = f"{'the file' if path.exists() else f'directory {folder}'} is not writable " \
                      f"({exc.strerror or type(exc).__name__})"
    if problem:
        raise AuditorError(f"cannot write {what} to {path}: {problem}")


def _format_for(out: Path) -> str:
    from auditor.errors import AuditorError
    from auditor.report.registry import format_for_path

    try:
        return format_for_path(out).NAME
    except AuditorError:
        return "json"


def _with_progress(path: Path, options, console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from auditor.pipeline import audit

    labels = {"compile": "compile + slither", "mythril": "mythril"}
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        options.progress = tick
        return audit(path, options)
