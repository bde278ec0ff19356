"""The report of an unchanged project, answered without planning it again.

An unchanged re-audit already reads every tool outcome from the cache, but planning a project
(reading each file, resolving its imports, choosing its compiler) and merging its findings cost
seconds on a few hundred files: a CI job or an editor hook re-running on the same tree should
cost what reading one report costs. So a complete report of a directory audit is kept under a key
of everything that decides it: the audit's options and tools, the `.sol` files under the
directory (path, size, modification time), the project's configuration files, the installed
compilers, and the SolSentry-relevant environment. Before it is used, every file the report read
(own and dependency) is hashed again and must match the report's `files[].sha256`.

Not kept: hosted audits (a submission is audited once), incomplete reports (a re-run must try
again), the `llm` review (an endpoint's answers are not a function of the code).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from auditor import __version__
from auditor.cache import ResultCache
from auditor.options import AuditOptions
from auditor.tools.base import Tool

# Files at the project root that change how its sources are found or compiled.
CONFIG_FILES = ("foundry.toml", "remappings.txt", "hardhat.config.js", "hardhat.config.ts", "hardhat.config.cjs",
                "hardhat.config.mjs", "truffle-config.js", "truffle.js", "package.json", "solsentry.toml",
                "pyproject.toml", "brownie-config.yaml", "ape-config.yaml")
# Options that decide where the work runs, not what it finds.
NOT_IN_KEY = {"jobs", "executor", "ray_address", "use_cache", "progress"}
SKIPPED_DIRS = {".git", "node_modules"}   # dependencies a report read are checked by their hash instead


_PACKAGE = Path(__file__).resolve().parent


def memo_key(path: str | Path, options: AuditOptions, tools: dict[str, Tool], solc_dir: Path) -> str | None:
    """The key of this audit's report, or None when it is not kept (see the module docstring)."""
    root = Path(path).expanduser()
    if options.hosted or not options.use_cache or options.review == "llm" or not root.is_dir():
        return None
    try:
        from auditor.report.model import SCHEMA_ID, SCHEMA_MINOR

        root = root.resolve(strict=True)
        # The package's own files too: an editable install or a pulled commit changes what an audit
        # reports (the review's facts, a mapping) without changing the version.
        parts = [__version__, SCHEMA_ID, SCHEMA_MINOR, str(root), _options(options), _tools(tools), _tree(root),
                 _configs(root), _listing(solc_dir, "*/.complete"), _environment(), _listing(_PACKAGE, "**/*.py"),
                 _listing(_PACKAGE / "review" / "knowledge")]
        if options.baseline is not None:
            parts.append(hashlib.sha256(Path(options.baseline).read_bytes()).hexdigest())
        if options.review == "embedded":
            from auditor.review.encoder import MODEL_DIR

            parts.append(_listing(Path(options.review_model or MODEL_DIR), "**/*"))
    except OSError:
        return None
    return ResultCache.key("report-memo", *parts)


def lookup(cache_store: ResultCache, key: str | None, root: str | Path):
    """The kept report when every file it read is unchanged, else None."""
    from pydantic import ValidationError

    from auditor.report.model import Report

    entry = cache_store.get(key) if key else None
    if entry is None:
        return None
    try:
        report = Report.model_validate(entry["report"])
        base = Path(root).expanduser().resolve()
        for f in report.files:
            if hashlib.sha256((base / f.path).read_bytes()).hexdigest() != f.sha256:
                return None
    except (OSError, KeyError, ValidationError):
        return None
    runs = [r.model_copy(update={"cached": True}) for r in report.tool_runs]
    return report.model_copy(update={"tool_runs": runs, "target": str(root)})


def store(cache_store: ResultCache, key: str | None, report) -> None:
    if key and report.complete and not any(f.status != "compiled" for f in report.files):
        cache_store.put(key, {"report": report.model_dump(mode="json")})


def _options(options: AuditOptions) -> str:
    fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in NOT_IN_KEY}
    return json.dumps(fields, sort_keys=True, default=str)


def _tools(tools: dict[str, Tool]) -> str:
    return ";".join(f"{n}={t.version()}/{t.settings_key()}/{t.unavailable() or ''}" for n, t in sorted(tools.items()))


def _tree(root: Path) -> str:
    h = hashlib.sha256()
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(names):
            if name.endswith(".sol"):
                p = os.path.join(folder, name)
                st = os.lstat(p)
                h.update(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
    return h.hexdigest()


def _configs(root: Path) -> str:
    h = hashlib.sha256()
    for name in CONFIG_FILES:
        p = root / name
        if p.is_file():
            h.update(name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _listing(folder: Path, pattern: str = "*") -> str:
    """Names, sizes and times of what matches `pattern` in `folder` (the compilers: `*/.complete`)."""
    if not folder.is_dir():
        return "-"
    h = hashlib.sha256()
    for p in sorted(folder.glob(pattern)):
        st = p.stat()
        h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _environment() -> str:
    """SOLSENTRY_* settings and FOUNDRY_* (the profile picks the project's compiler settings)."""
    return json.dumps(sorted((k, v) for k, v in os.environ.items() if k.startswith(("SOLSENTRY_", "FOUNDRY_"))))
