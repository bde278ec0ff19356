"""Output formats of the audit report: one small class per format, and the registry that names them.

A format declares what it is as class attributes (checked when the class is defined) and turns a
`Report` into text with `render`. The registry is an explicit list (`_registered`), so what
`solsentry audit --format` accepts is written down in one place rather than discovered at import.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path
from typing import ClassVar

from auditor.errors import AuditorError
from auditor.findings import Finding
from auditor.report.model import Report

SWC_REGISTRY = "https://swcregistry.io/docs/"
_SWC_ID = re.compile(r"^SWC-\d+$")

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_EXTENSION = re.compile(r"^(\.[a-z0-9]+)+$")
_MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9][a-z0-9.+-]*$")


def verdict_text(f: Finding) -> str | None:
    """e.g. "likely false (score 0.12, solsentry-review-minilm@ab12...)"; None when unreviewed."""
    if f.review is None:
        return None
    return f"{f.review.label.replace('_', ' ')} (score {f.review.score:.3f}, {f.review.model})"


def review_text(report: Report) -> str | None:
    """One line on what the review step did; None when the audit ran with --review none."""
    r = report.review
    if r is None:
        return None
    if r.state == "failed":
        return f"review failed ({r.reviewer}): {r.message}. Tool findings are unreviewed."
    if r.state == "partial":
        return (f"reviewed by {r.model} except where it failed ({r.message}); {r.reviewed} finding(s) judged, "
                f"{r.likely_false} likely false; {r.model_findings} finding(s) of the model alone (advisory)")
    return (f"reviewed by {r.model}: {r.reviewed} finding(s) judged, {r.likely_false} likely false; "
            f"{r.model_findings} finding(s) of the model alone (advisory, not counted by --fail-on)")


def totals_text(report: Report) -> str:
    """What the totals count, e.g. `12 tool findings (11 counted, 1 suppressed) + 2 review-model
    findings (advisory, not counted)`: --fail-on sees only the counted ones."""
    s = report.summary
    counted = s.high + s.medium + s.low + s.informational
    tool = s.total - s.model
    text = f"{tool} tool finding{'' if tool == 1 else 's'} ({counted} counted, {s.suppressed} suppressed)"
    if report.review is not None:
        text += f" + {s.model} review-model finding{'' if s.model == 1 else 's'} (advisory, not counted)"
    return text


def incomplete_text(report: Report) -> str | None:
    """None for a complete audit; else what is missing, e.g. `incomplete: 1 file not analyzed, 2 tool
    runs did not finish; findings may be missing`."""
    if report.complete:
        return None
    files, runs = len(report.unanalyzed_files()), len(report.unfinished_runs())
    parts = [*([f"{files} file{'' if files == 1 else 's'} not analyzed"] if files else []),
             *([f"{runs} tool run{'' if runs == 1 else 's'} did not finish"] if runs else [])]
    return f"incomplete: {', '.join(parts) or 'some analysis did not run'}; findings may be missing"


def swc_url(swc: str | None) -> str | None:
    """The SWC registry page of an id such as 'SWC-107'; None for anything else."""
    return f"{SWC_REGISTRY}{swc}" if swc and _SWC_ID.match(swc) else None


class UnknownFormatError(AuditorError):
    """No report format of that name (or file extension) is registered."""

    def __init__(self, name: str, known: list[str], what: str = "format") -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown report {what} {name!r}; known: {', '.join(known)}")


class ReportFormat(ABC):
    """One output format of the report. Subclasses set the four attributes and implement `render`."""

    NAME: ClassVar[str]
    """Short name used on the command line, e.g. "json" (lowercase letters, digits, '-')."""
    EXTENSION: ClassVar[str]
    """File extension with its dot, e.g. ".json"."""
    MEDIA_TYPE: ClassVar[str]
    """IANA media type of the rendered text, e.g. "application/json" (always UTF-8)."""
    DESCRIPTION: ClassVar[str]
    """One line for `--help` and docs."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _check_metadata(cls)

    @abstractmethod
    def render(self, report: Report) -> str:
        """The whole report in this format."""

    def write(self, report: Report, path: str | Path) -> Path:
        """Render `report` into `path` (UTF-8, ending in a newline); returns the path."""
        text = self.render(report)
        if not text.endswith("\n"):
            text += "\n"
        out = Path(path)
        out.write_text(text, encoding="utf-8")
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.NAME!r}>"


def _check_metadata(cls: type[ReportFormat]) -> None:
    def bad(attr: str, why: str) -> TypeError:
        return TypeError(f"report format {cls.__qualname__}: {attr} {why}")

    for attr, pattern in (("NAME", _NAME), ("EXTENSION", _EXTENSION), ("MEDIA_TYPE", _MEDIA_TYPE)):
        value = getattr(cls, attr, None)
        if not isinstance(value, str):
            raise bad(attr, "must be set to a string")
        if not pattern.match(value):
            raise bad(attr, f"{value!r} does not match {pattern.pattern}")
    description = getattr(cls, "DESCRIPTION", None)
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        raise bad("DESCRIPTION", "must be one non-empty line")
    if cls.render is ReportFormat.render:
        raise bad("render", "must be implemented")


@cache
def _registered() -> dict[str, ReportFormat]:
    # The registration list. Imported here, not at the top, because each format module imports
    # this one for the base class.
    from auditor.report.html import HtmlFormat
    from auditor.report.json_format import JsonFormat
    from auditor.report.markdown import MarkdownFormat
    from auditor.report.sarif import SarifFormat

    registry: dict[str, ReportFormat] = {}
    extensions: set[str] = set()
    for cls in (JsonFormat, SarifFormat, MarkdownFormat, HtmlFormat):
        if cls.NAME in registry:
            raise TypeError(f"report format name {cls.NAME!r} registered twice")
        if cls.EXTENSION in extensions:
            raise TypeError(f"report format extension {cls.EXTENSION!r} registered twice")
        registry[cls.NAME] = cls()
        extensions.add(cls.EXTENSION)
    return registry


def format_names() -> list[str]:
    """Names of the registered formats, in registration order."""
    return list(_registered())


def all_formats() -> list[ReportFormat]:
    """One instance of every registered format, in registration order."""
    return list(_registered().values())


def get_format(name: str) -> ReportFormat:
    """The registered format called `name` (case-insensitive); `UnknownFormatError` otherwise."""
    key = name.strip().lower()
    try:
        return _registered()[key]
    except KeyError:
        raise UnknownFormatError(name, format_names()) from None


def format_for_path(path: str | Path) -> ReportFormat:
    """The format whose extension ends the file name of `path` (the longest match wins)."""
    filename = Path(path).name.lower()
    matches = [f for f in _registered().values() if filename.endswith(f.EXTENSION)]
    if not matches:
        known = [f.EXTENSION for f in _registered().values()]
        raise UnknownFormatError(Path(path).name, known, what="file extension of")
    return max(matches, key=lambda f: len(f.EXTENSION))
