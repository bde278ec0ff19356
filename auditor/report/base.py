"""The report format class: what a format declares (checked when the class is defined) and `render`.

A format declares what it is as class attributes and turns a `Report` into text with `render`.
Formats live one per module (`json_format.py`, `sarif.py`, `markdown.py`, `html.py`) and are named
by `registry.py`; this module imports none of them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from auditor.errors import AuditorError
from auditor.report.model import Report

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_EXTENSION = re.compile(r"^(\.[a-z0-9]+)+$")
_MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9][a-z0-9.+-]*$")


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
