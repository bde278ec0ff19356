"""Canonical report bytes: the bytes whose keccak256 goes on chain.

Deterministic for the same input and configuration, so independent nodes agree: the JSON report
with keys sorted, no insignificant whitespace, UTF-8, and without what differs between runs of
the same audit (durations, cache hits, the node's local path of the input).
"""

from __future__ import annotations

import json

from eth_utils import keccak

from auditor.report.model import Report

_VOLATILE_TOP = ("duration_s",)
_VOLATILE_RUN = ("duration_s", "cached")


def canonical_bytes(report: Report, workdir: str | None = None) -> bytes:
    """`workdir`: where this node unpacked the input; it is replaced by "." wherever it appears."""
    text = report.to_json(indent=None)
    if workdir:
        text = text.replace(json.dumps(workdir)[1:-1].rstrip("/") + "/", "./").replace(
            json.dumps(workdir)[1:-1], ".")
    doc = json.loads(text)
    for key in _VOLATILE_TOP:
        doc.pop(key, None)
    if doc.get("target_kind") != "bytecode":     # a bytecode target is named by its address, not a path
        doc["target"] = "input"
    for run in doc.get("tool_runs", []):
        for key in _VOLATILE_RUN:
            run.pop(key, None)
    if isinstance(doc.get("review"), dict):
        doc["review"].pop("duration_s", None)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def output_hash(data: bytes) -> bytes:
    return keccak(data)


def model_hash(config: str) -> bytes:
    """Identifies the analysis configuration (SolSentry, tool and model versions)."""
    return keccak(text=config)
