"""The tools SolSentry runs, by name. Registration is this explicit list (`register` adds one,
e.g. a test's); the pipeline, the CLI and the API take their choices from here."""

from __future__ import annotations

from auditor.errors import AuditorError
from auditor.tools.base import Tool
from auditor.tools.mythril import MythrilTool
from auditor.tools.slither import SlitherTool

_TOOLS: dict[str, type[Tool]] = {t.NAME: t for t in (SlitherTool, MythrilTool)}

# The built-in tools, in their default order (what an audit runs unless told otherwise).
TOOL_NAMES: tuple[str, ...] = tuple(_TOOLS)


def tool_names() -> tuple[str, ...]:
    """Every registered tool, registration order (the built-ins first)."""
    return tuple(_TOOLS)


def tool_class(name: str) -> type[Tool]:
    if name not in _TOOLS:
        raise AuditorError(f"unknown tool {name!r}; available: {', '.join(_TOOLS)}")
    return _TOOLS[name]


def get_tool(name: str, **kwargs: object) -> Tool:
    """An instance of the tool `name`, with its settings (`AuditOptions.tool_settings[name]`)."""
    return tool_class(name)(**kwargs)


def register(tool: type[Tool]) -> None:
    """Add (or replace) a tool by its NAME."""
    _TOOLS[tool.NAME] = tool


def unregister(name: str) -> None:
    if name in TOOL_NAMES:
        raise AuditorError(f"{name} is a built-in tool")
    _TOOLS.pop(name, None)
