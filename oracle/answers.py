"""Answers: the status, the signed output bytes and their hashes (oracle/processor.py makes them).

Error documents hold only what every honest node computes alike from the committed input (a
fixed reason per status, the archive error code and message, compiler messages), so a quorum
can agree on them too; the node-local detail is in `Answer.reason`, which is never signed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from auditor.findings import Severity
from auditor.report.model import Report
from oracle.canonical import output_hash
from oracle.inputs import ResultStatus

log = logging.getLogger(__name__)

ERROR_SCHEMA = "solsentry.oracle-error/1"

_REASONS = {
    ResultStatus.INPUT_UNAVAILABLE: "the input could not be fetched",
    ResultStatus.INPUT_HASH_MISMATCH: "the input does not hash to the committed inputHash",
    ResultStatus.INPUT_TOO_LARGE: "the input is over the node's size limits",
    ResultStatus.NOT_SOLIDITY: "no Solidity sources in the input",
    ResultStatus.COMPILE_ERROR: "no source compiled",
    ResultStatus.TIMEOUT: "the audit ran past its time budget",
    ResultStatus.INTERNAL_ERROR: "the node failed to audit the input",
    ResultStatus.NO_CODE: "no code at the target address",
}
_MAX_COUNT = 255


@dataclass(frozen=True)
class Answer:
    status: int
    output: bytes
    output_hash: bytes
    model_hash: bytes
    high: int
    medium: int
    reason: str = ""  # node-local detail for logs and the job store; not signed, not in `output`

    @property
    def retryable(self) -> bool:
        """INTERNAL_ERROR: the node failed, not the input; retry before answering it on chain."""
        return self.status == ResultStatus.INTERNAL_ERROR


class Failure(Exception):
    """An input or node failure, answered with its status (never raised out of `process`)."""

    def __init__(self, status: ResultStatus, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.extra = extra


def dumps(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_document(status: ResultStatus | int, **extra: Any) -> bytes:
    """`{"schema":"solsentry.oracle-error/1","status":N,"name":"...","reason":"...",...}`, canonical
    (UTF-8, sorted keys, no whitespace). `extra` adds deterministic detail (e.g. `code`, `errors`)."""
    status = ResultStatus(status)
    doc = {"schema": ERROR_SCHEMA, "status": int(status), "name": status.name,
           "reason": _REASONS.get(status, status.name.lower()), **extra}
    return dumps(doc)


def error_answer(status: ResultStatus, model: bytes, reason: str, **extra: Any) -> Answer:
    out = error_document(status, **extra)
    log.info("answer %s: %s", status.name, reason)
    return Answer(int(status), out, output_hash(out), model, 0, 0, reason)


def ok_answer(output: bytes, model: bytes, high: int, medium: int) -> Answer:
    return Answer(int(ResultStatus.OK), output, output_hash(output), model, min(high, _MAX_COUNT),
                  min(medium, _MAX_COUNT), "audited")


def report_answer(report: Report, output: bytes, model: bytes) -> Answer:
    """OK, with the report's counted high and medium findings."""
    counted = report.counted()
    return ok_answer(output, model, sum(1 for f in counted if f.severity == Severity.HIGH),
                     sum(1 for f in counted if f.severity == Severity.MEDIUM))
