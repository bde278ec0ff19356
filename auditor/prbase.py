"""The base audit of PR mode (auditor/diff.py): the commit's tree audited with the head's options.

The tree is written into a temporary folder by git plumbing (auditor/gitbase.py: no checkout, so no
hook or filter of the repository runs), the checkout's submodules and dependency folders are copied
in (auditor/gitdeps.py), and the same PATH inside it is audited through `auditor.pipeline.audit`
with the same options. Unchanged files cost nothing there: the results cache is keyed by content
and names relative to the root (auditor/cache.py, plan.py), not by where the root is.

Only the base's fingerprints are needed. They are kept in a small store,
`<results dir>/pr-base/<key>.json`, keyed by the commit and everything in the options that changes
findings (tools and their settings and versions, review, include flags, allowed paths, PATH inside
the repository, SolSentry's version), so a second run against the same base audits nothing. An
incomplete base audit (a file that did not compile, a tool run that failed) is not stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from auditor import __version__
from auditor.config import get_settings
from auditor.errors import TargetError
from auditor.options import AuditOptions
from auditor.perms import private_dir

STORE_SCHEMA = "solsentry.pr-base/1"
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BaseCommit:
    name: str        # the ref as given, for messages
    repo: Path       # the top of the work tree
    commit: str      # full sha
    rel: str         # PATH relative to `repo`, '/'-separated ('.' for the top)


def base_fingerprints(base: BaseCommit, options: AuditOptions) -> tuple[frozenset[str], bool]:
    """The fingerprints of every finding of the base commit (suppressed and model ones too), and
    whether that audit was complete."""
    store = _store_path(base, options)
    if options.use_cache and (hit := _read(store, base.commit)) is not None:
        return hit, True
    fingerprints, complete = _audit_base(base, options)
    if complete and options.use_cache:
        _write(store, base.commit, fingerprints)
    return fingerprints, complete


def _audit_base(base: BaseCommit, options: AuditOptions) -> tuple[frozenset[str], bool]:
    from auditor.gitbase import materialize
    from auditor.gitdeps import copy_dependencies
    from auditor.pipeline import audit

    with tempfile.TemporaryDirectory(prefix="solsentry-base-") as tmp:
        dest = Path(tmp) / "tree"
        dest.mkdir()
        tree = materialize(base.repo, base.commit, dest)
        copied = copy_dependencies(base.repo, tree, dest)
        log.info("base %s: %d files, dependencies copied from the checkout: %s", base.commit[:12], tree.files,
                 ", ".join(copied) or "none")
        target = dest / base.rel if base.rel not in ("", ".") else dest
        if not target.exists():
            return frozenset(), True          # PATH is new in the head: nothing was there before
        quiet = dataclasses.replace(options, progress=None)
        try:
            report = audit(target, quiet)
        except TargetError as exc:
            # e.g. no Solidity file yet at the base: nothing to compare with, and say it is partial
            log.warning("the base %s could not be audited: %s", base.name, exc)
            return frozenset(), False
    return frozenset(f.fingerprint for f in report.findings), report.complete


def _options_key(base: BaseCommit, options: AuditOptions) -> str:
    from auditor.tools.registry import get_tool

    tools = {}
    for name in options.tools:
        settings = options.settings_for(name)
        tool = get_tool(name, **settings)
        tools[name] = [tool.version(), tool.settings_key()]
    parts = {
        "commit": base.commit, "path": base.rel, "solsentry": __version__, "tools": tools,
        "review": [options.review, str(options.review_model or ""), options.llm_model, options.llm_adapter,
                   options.llm_model_name],
        "include": [options.include_dependencies, options.include_tests], "allow": sorted(options.allow_paths),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _store_path(base: BaseCommit, options: AuditOptions) -> Path:
    return get_settings().results_path / "pr-base" / f"{_options_key(base, options)}.json"


def _read(path: Path, commit: str) -> frozenset[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != STORE_SCHEMA or data.get("commit") != commit:
        return None
    prints = data.get("fingerprints")
    return frozenset(p for p in prints if isinstance(p, str)) if isinstance(prints, list) else None


def _write(path: Path, commit: str, fingerprints: frozenset[str]) -> None:
    try:
        private_dir(path.parent.parent)
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            json.dump({"schema": STORE_SCHEMA, "commit": commit, "fingerprints": sorted(fingerprints)}, fh)
        os.replace(tmp, path)
    except OSError as exc:       # a store that cannot be written only costs the next run time
        log.warning("could not keep the base results in %s: %s", path, exc)
