"""The tools SolSentry runs, by name. Registration is this explicit list."""

from __future__ import annotations

from auditor.errors import AuditorError
from auditor.tools.base import Tool


def _tools() -> dict[str, type[Tool]]:
    from auditor.tools.mythril import MythrilTool
    from auditor.tools.slither import SlitherTool

    return {t.NAME: t for t in (SlitherTool, MythrilTool)}


TOOL_NAMES = ("slither", "mythril")


def get_tool(name: str, **kwargs: object) -> Tool:
    tools = _tools()
    if name not in tools:
        raise AuditorError(f"unknown tool {name!r}; available: {', '.join(TOOL_NAMES)}")
    return tools[name](**kwargs)
