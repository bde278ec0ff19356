"""The review backends, by name. Registration is this explicit list of Reviewer classes, keyed by
their NAME; "none" (no review step) is the one name without a class. The CLI's and the API's
choices are built from here."""

from __future__ import annotations

from auditor.errors import AuditorError
from auditor.review.base import Reviewer
from auditor.review.encoder import EncoderReviewer
from auditor.review.llm.reviewer import LLMReviewer

NO_REVIEW = "none"
_REVIEWERS: dict[str, type[Reviewer]] = {r.NAME: r for r in (EncoderReviewer, LLMReviewer)}

REVIEW_NAMES: tuple[str, ...] = (*_REVIEWERS, NO_REVIEW)
# What the HTTP service offers (Reviewer.HOSTED).
HOSTED_REVIEW_NAMES: tuple[str, ...] = (*(n for n, r in _REVIEWERS.items() if r.HOSTED), NO_REVIEW)


def get_reviewer(name: str, **kwargs: object) -> Reviewer | None:
    """None for "none" (no review step)."""
    if name == NO_REVIEW:
        return None
    if name not in _REVIEWERS:
        raise AuditorError(f"unknown review backend {name!r}; available: {', '.join(REVIEW_NAMES)}")
    return _REVIEWERS[name](**kwargs)
