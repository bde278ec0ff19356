"""What an audit is asked to do (`AuditOptions`): the tools and their settings, the review, where
the work runs. Plain data, picklable (the isolated runner sends it to its child)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from auditor.tools.registry import TOOL_NAMES

Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass
class AuditOptions:
    tools: tuple[str, ...] = TOOL_NAMES
    jobs: int | None = None
    # Per-tool settings, by tool name: the keyword arguments of its class (e.g.
    # {"mythril": {"execution_timeout": 120}}).
    tool_settings: dict[str, dict] = field(default_factory=dict)
    # Mythril's execution budget per contract (kept for callers; it fills tool_settings["mythril"]).
    mythril_timeout: int | None = None
    use_cache: bool = True
    # Cached results are shared only within this scope (the API: the submitter's key; auditor/cache.py).
    cache_scope: str | None = None
    include_dependencies: bool = False
    include_tests: bool = False
    baseline: Path | None = None
    # "embedded": the bundled review model judges findings and adds its own; "none": tools only.
    review: str = "embedded"
    review_model: Path | None = None      # a trained model directory instead of the bundled one
    # --review llm: the model (local directory, hub id or OpenAI-compatible base URL) and its options
    llm_model: str | None = None
    llm_adapter: str | None = None
    llm_model_name: str | None = None
    # Where the file stages run: "local" processes or "ray" tasks (on ray_address, or a local instance)
    executor: str = "local"
    ray_address: str | None = None
    # Directories outside the target that its imports may read (CLI --allow-path; auditor/sandbox.py).
    allow_paths: tuple[str, ...] = ()
    # An audit run for someone else (API, oracle): only the submitted files are read, no enclosing
    # project is consulted, and no compiler is installed (only cached ones are used).
    hosted: bool = False
    # From the project config (auditor/project_config.py, applied by auditor/filters.py): glob patterns
    # of own sources not to analyze (relative ones from the target's root), the finding filter
    # (rules: detector names, SWC ids, categories; include empty = every finding), the lowest
    # severity reported, and compiler overrides (version, optimizer, runs, via_ir, evm_version, origin).
    exclude_paths: tuple[str, ...] = ()
    detectors_include: tuple[str, ...] = ()
    detectors_exclude: tuple[str, ...] = ()
    min_severity: str | None = None
    compiler_override: dict | None = None
    progress: Progress | None = field(default=None, repr=False)

    def settings_for(self, tool: str) -> dict:
        """The keyword arguments for the tool `tool`."""
        kwargs = dict(self.tool_settings.get(tool, {}))
        if tool == "mythril" and self.mythril_timeout is not None:
            kwargs.setdefault("execution_timeout", self.mythril_timeout)
        return kwargs
