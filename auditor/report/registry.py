"""The registry of report formats: an explicit list, so what `solsentry audit --format` accepts is
written down in one place rather than discovered at import.

This module sits on top: it imports the formats, and no format imports it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from auditor.report.base import ReportFormat, UnknownFormatError
from auditor.report.html import HtmlFormat
from auditor.report.json_format import JsonFormat
from auditor.report.markdown import MarkdownFormat
from auditor.report.sarif import SarifFormat

__all__ = ["ReportFormat", "UnknownFormatError", "all_formats", "format_for_path", "format_names",
           "get_format"]

_FORMATS: tuple[type[ReportFormat], ...] = (JsonFormat, SarifFormat, MarkdownFormat, HtmlFormat)
"""The registration list, in the order `--help` and `format_names()` show them."""


@cache
def _registered() -> dict[str, ReportFormat]:
    registry: dict[str, ReportFormat] = {}
    extensions: set[str] = set()
    for cls in _FORMATS:
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
