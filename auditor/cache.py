"""Tool results keyed by what determines them: the sources' content, the compiler, the tool's
version and settings. An unchanged re-audit reads them back instead of analyzing again."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from auditor.findings import Confidence, Severity
from auditor.perms import private_dir
from auditor.tools.base import RawFinding, RawLocation, ToolOutcome

# 2: infrastructure failures are no longer stored (format 1 caches may hold some), and Mythril
# timeouts under their budget are. 3: file stages computed in build groups (auditor/build.py).
CACHE_FORMAT = 3


class ResultCache:
    def __init__(self, root: Path, enabled: bool = True, scope: str | None = None) -> None:
        """`scope`: entries are visible only to caches of the same scope (the API passes the
        submitter's key: whether an exact text was audited before must not tell one client about
        another's audits)."""
        self.root = root
        self.enabled = enabled
        self.scope = scope
        self._root_checked = False

    @staticmethod
    def key(*parts: object) -> str:
        h = hashlib.sha256(f"solsentry-cache/{CACHE_FORMAT}".encode())
        for p in parts:
            h.update(b"\x1f" + str(p).encode())
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        if self.scope:
            key = hashlib.sha256(f"{self.scope}\x1f{key}".encode()).hexdigest()
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if not self.enabled:
            return None
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict) -> None:
        if not self.enabled:
            return
        path = self._path(key)
        # Entries hold code fragments (finding descriptions): folders 0700, files 0600 (mkstemp's).
        if not self._root_checked:
            private_dir(self.root)
            self._root_checked = True
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            json.dump(value, fh)
        os.replace(tmp, path)

    def prune(self, older_than_s: float) -> int:
        """Delete entries (and leftover temporary files) written more than `older_than_s` ago; how
        many. Shard folders stay (a concurrent put may be about to write into one)."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.root.glob("??/*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:                 # gone meanwhile, or replaced by a put
                continue
        return removed


def outcome_to_json(o: ToolOutcome) -> dict:
    return dataclasses.asdict(o)


def outcome_from_json(d: dict) -> ToolOutcome:
    findings = [RawFinding(**{**f, "severity": Severity(f["severity"]), "confidence": Confidence(f["confidence"]),
                              "locations": [RawLocation(**loc) for loc in f["locations"]]})
                for f in d.get("findings", [])]
    return ToolOutcome(d["state"], findings, d.get("message"), d.get("duration_s", 0.0),
                       d.get("infrastructure", False))


def content_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
