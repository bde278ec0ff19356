"""Titles of the review's knowledge-base entries, so a format can name a verdict's `knowledge` id
("SWC-107: Reentrancy") rather than print a bare id.

The entries are read straight from the YAML file and not through `auditor.review.llm.knowledge.entries`:
that one insists on every field of its `Entry` and raises on a damaged file, and a report must render
whatever state the knowledge base is in (a missing title only costs the title, never the report).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

# Only the path is taken from the review package; the module imports nothing heavy (no torch).
from auditor.review.llm.knowledge import KB_PATH


@cache
def titles(path: Path = KB_PATH) -> dict[str, str]:
    """id -> title of every entry; empty when the file is missing or unreadable. Read once per process."""
    # Imported here: only reports with a verdict that names an entry need it.
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    if not isinstance(data, list):
        return {}
    return {str(e["id"]).strip(): " ".join(str(e["title"]).split())
            for e in data if isinstance(e, dict) and e.get("id") and e.get("title")}


def knowledge_title(entry: str | None) -> str | None:
    """The title of knowledge-base entry `entry` (e.g. 'SWC-107' -> 'Reentrancy'); None if unknown."""
    return titles().get(entry) if entry else None
