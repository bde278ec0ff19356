"""The review step's one interface: a reviewer reads the findings and the sources and returns
verdicts on the findings plus findings of its own. Reviewers annotate; they never delete."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from auditor.errors import AuditorError
from auditor.findings import Finding, Verdict, sort_key
from auditor.report.model import Report, ReviewInfo, summarize


@dataclass
class Review:
    model: str
    verdicts: dict[str, Verdict] = field(default_factory=dict)      # finding id -> verdict
    findings: list[Finding] = field(default_factory=list)           # origin="model"
    failures: list[str] = field(default_factory=list)               # parts left unreviewed, and why


class Reviewer(ABC):
    """One review backend. Subclasses declare their metadata; `review` does the work."""

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    # Offered by the HTTP service (a hosted audit): False for a backend that needs the caller's own
    # model or endpoint (--review llm).
    HOSTED: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for attr in ("NAME", "DESCRIPTION"):
            if not isinstance(getattr(cls, attr, None), str):
                raise TypeError(f"{cls.__name__} must declare {attr}")

    @property
    @abstractmethod
    def model_id(self) -> str:
        """name@hash of the model's files: the same id means the same verdicts."""

    @abstractmethod
    def review(self, findings: list[Finding], sources: Mapping[str, str]) -> Review:
        """`sources`: file path (as in the findings' locations) -> source text."""


def apply_review(report: Report, reviewer: Reviewer, sources: Mapping[str, str]) -> Report:
    """The report with verdicts attached and the model's findings added. A reviewer that fails
    leaves every tool finding in place and says so in `report.review`: never a crash, never a
    silently empty review."""
    started = time.monotonic()
    tool_findings = [f for f in report.findings if f.origin == "tool"]
    try:
        result = reviewer.review(tool_findings, sources)
    except AuditorError as exc:
        info = ReviewInfo(reviewer=reviewer.NAME, state="failed", message=str(exc),
                          duration_s=round(time.monotonic() - started, 3))
        return report.model_copy(update={"review": info})
    findings = [f.model_copy(update={"review": result.verdicts.get(f.id)}) for f in tool_findings]
    judged = [f for f in findings if f.review is not None]
    findings += sorted(result.findings, key=sort_key)
    # Counted from the findings as they are in the report (not from the verdicts given), so that
    # the block says how many findings carry a verdict, suppressed ones included.
    info = ReviewInfo(reviewer=reviewer.NAME, model=result.model, state="partial" if result.failures else "ok",
                      message="; ".join(result.failures)[:4000] or None, reviewed=len(judged),
                      likely_false=sum(f.review.label == "likely_false" for f in judged),
                      unsure=sum(f.review.label == "unsure" for f in judged),
                      model_findings=len(result.findings), duration_s=round(time.monotonic() - started, 3))
    return report.model_copy(update={"findings": findings, "summary": summarize(findings), "review": info})
