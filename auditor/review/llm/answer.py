"""The model's answer: a JSON object validated against one schema, repaired when it is close.

Models wrap JSON in code fences, add prose around it, leave trailing commas or stop mid-object.
`parse` takes the first balanced JSON object out of the text, fixes the common slips and
validates it; anything still invalid raises `AnswerError`, which the reviewer retries a bounded
number of times before it reports a review failure. The error names what is wrong (a category
that is not one of ours, with the list to choose from), since the model reads it on the retry.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import ReviewError
from auditor.findings import Category

# The classes a model may give a finding it adds: every weakness class, DASP or modern (code quality
# is no weakness). Taken from the enum, so a new class reaches the schema and the prompt by itself.
ANSWER_CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category if c is not Category.CODE_QUALITY)


class AnswerError(ReviewError):
    """The model's output is not a valid answer (after repair)."""


class VerdictItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(description="The finding id, as given in the prompt")
    verdict: Literal["true_positive", "false_positive"]
    reason: str = Field(max_length=2000)


class NewFinding(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(max_length=300)
    category: Literal[ANSWER_CATEGORIES]  # type: ignore[valid-type]
    file: str
    line: int = Field(ge=1)
    reason: str = Field(max_length=2000)
    fix: str = Field("", max_length=2000)


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    verdicts: list[VerdictItem] = Field(default_factory=list)
    findings: list[NewFinding] = Field(default_factory=list)
    summary: str = Field("", max_length=4000)


ANSWER_SCHEMA = Answer.model_json_schema()


def _scan(text: str) -> tuple[int | None, list[str], bool]:
    """(end of the first balanced object or None, closers still open, inside a string)."""
    in_str, esc, stack = False, False, []
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
            if not stack:
                return i, [], False
    return None, stack, in_str


def _candidates(text: str) -> list[str]:
    """The first JSON object in `text`; when it is cut off (max tokens), that text closed at each
    of its last complete items, so a truncated answer keeps what it finished."""
    start = text.find("{")
    if start < 0:
        return []
    body = text[start:]
    end, _, _ = _scan(body)
    if end is not None:
        return [body[:end + 1]]
    out = []
    ends = [i + 1 for i in range(len(body) - 1, -1, -1) if body[i] in '}]"'][:40]
    cuts = [len(body), *ends]
    for cut in cuts:
        prefix = re.sub(r"[,:\s]*$", "", body[:cut])
        _, stack, in_str = _scan(prefix)
        if in_str:
            continue
        out.append(prefix + "".join(reversed(stack)))
    return out


def _explain(exc: ValidationError) -> str:
    """Short enough for the retry message, precise enough for the model to correct itself."""
    parts = []
    for err in exc.errors()[:4]:
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "literal_error" and err["loc"][-1:] == ("category",):
            parts.append(f"{where}: {str(err['input'])[:40]!r} is not a category; use one of "
                         + ", ".join(ANSWER_CATEGORIES))
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse(text: str) -> Answer:
    candidates = _candidates(re.sub(r"```(?:json)?", "", text))
    if not candidates:
        raise AnswerError("the model's output holds no JSON object")
    invalid: ValidationError | None = None       # well-formed JSON that breaks the schema: the useful error
    last: Exception | None = None
    for attempt in (fixed for c in candidates for fixed in (c, re.sub(r",(\s*[}\]])", r"\1", c))):
        try:
            return Answer.model_validate(json.loads(attempt))
        except ValidationError as exc:
            invalid = invalid or exc
        except ValueError as exc:
            last = exc
    detail = _explain(invalid) if invalid is not None else str(last)
    raise AnswerError(f"the model's output is not a valid answer: {detail[:1000]}")
