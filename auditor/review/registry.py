"""The review backends, by name. Registration is this explicit list."""

from __future__ import annotations

from auditor.errors import AuditorError
from auditor.review.base import Reviewer

REVIEW_NAMES = ("embedded", "llm", "none")


def get_reviewer(name: str, **kwargs: object) -> Reviewer | None:
    """None for "none" (no review step)."""
    if name == "none":
        return None
    if name == "embedded":
        from auditor.review.encoder import EncoderReviewer

        return EncoderReviewer(**kwargs)
    if name == "llm":
        from auditor.review.llm.reviewer import LLMReviewer

        return LLMReviewer(**kwargs)
    raise AuditorError(f"unknown review backend {name!r}; available: {', '.join(REVIEW_NAMES)}")
