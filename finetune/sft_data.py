"""Instruction examples for the generative review, built through the inference prompt template.

One example per labelled file: the prompt the reviewer would send (source, the tools' findings,
retrieved knowledge) and the answer the labels imply: each finding's verdict (true when it
matches a labelled vulnerability under the evaluation protocol), each labelled vulnerability no
tool found as a missed finding, and a one-line summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from auditor.evaluation.dataset import LabelledDataset
from auditor.evaluation.scoring import location_hits
from auditor.findings import Finding
from auditor.report.model import Report
from auditor.review.llm import prompt as prompts
from auditor.review.llm.answer import ANSWER_CATEGORIES, Answer, NewFinding, VerdictItem
from auditor.review.llm.knowledge import Entry, Retriever, entries, entry_for
from finetune.errors import FinetuneError

SFT_FILE = "sft.jsonl"


@dataclass
class SFTExample:
    group: str
    messages: list[dict]
    answer: str              # the expected answer, as canonical JSON


def _entry(category: str, swc: str | None = None) -> Entry | None:
    """The knowledge entry the answer quotes for a class: the one the review attaches to it."""
    wanted = entry_for(category, swc)
    return next((e for e in entries() if e.id == wanted), None)


def reviewable(findings: list[Finding]) -> list[Finding]:
    """The findings the generative review judges: those of the classes its answer may name (every
    class but code quality, which is style, not a weakness), as at inference."""
    return [f for f in findings if f.category.value in ANSWER_CATEGORIES]


def expected_answer(findings: list[Finding], labels, path: str, report_path: str) -> Answer:
    verdicts, found = [], set()
    for f in findings:
        # Matched as the evaluation scores: by DASP class (a finding of a modern class is real when
        # it sits on a label of the class it refines).
        hit = [j for j, lb in enumerate(labels) if lb.category.dasp is f.category.dasp
               and any(location_hits(loc, n) for loc in f.locations for n in lb.lines)]
        found.update(hit)
        words = f.category.value.replace("_", " ")
        e = _entry(f.category.value, f.swc)
        if hit:
            reason = f"The flagged code shows {words}" + (f": {e.signs}" if e else ".")
        else:
            reason = f"No {words} weakness at this place: the flagged code is not exploitable that way."
        verdicts.append(VerdictItem(id=f.id, verdict="true_positive" if hit else "false_positive", reason=reason))
    missed = []
    for j, lb in enumerate(labels):
        if j in found or lb.category.value not in ANSWER_CATEGORIES:
            continue
        e = _entry(lb.category.value, getattr(lb, "swc", None))    # labels of SWC-labelled datasets carry one
        words = lb.category.value.replace("_", " ")
        missed.append(NewFinding(title=f"{words.capitalize()} vulnerability", category=lb.category.value,
                                 file=report_path, line=lb.line, reason=e.weakness if e else words,
                                 fix=e.fix if e else ""))
    real = sum(v.verdict == "true_positive" for v in verdicts)
    summary = f"{real} of {len(verdicts)} tool findings are real; {len(missed)} weakness(es) the tools missed."
    return Answer(verdicts=verdicts, findings=missed, summary=summary)


def build(dataset: LabelledDataset, report: Report, context_tokens: int = 8192,
          answer_tokens: int = 1024) -> list[SFTExample]:
    retriever = Retriever()
    by_file: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.origin == "tool":
            by_file.setdefault(f.primary.file, []).append(f)
    out = []
    for sf in report.files:
        path = dataset.resolve(sf.path)
        lf = dataset.file(sf.path)
        if path is None or lf is None or sf.status != "compiled":
            continue
        source = (dataset.root / path).read_text(encoding="utf-8", errors="replace")
        mine = reviewable(by_file.get(sf.path, []))
        knowledge = retriever.search(prompts.query_text(mine, source), 4,
                                     always=tuple(sorted({f.swc for f in mine if f.swc})))
        p = prompts.build(sf.path, source, mine, knowledge, context_tokens, answer_tokens)
        answer = expected_answer(mine, lf.labels, path, sf.path)
        out.append(SFTExample(path, p.messages, answer.model_dump_json()))
    return out


def write(directory: Path, examples: list[SFTExample]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / SFT_FILE, "w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps(asdict(e), sort_keys=True) + "\n")


def read(directory: Path) -> list[SFTExample]:
    path = directory / SFT_FILE
    if not path.is_file():
        raise FinetuneError(f"{path} does not exist: build it with `solsentry finetune data`")
    try:
        return [SFTExample(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except (ValueError, TypeError) as exc:
        raise FinetuneError(f"{path}: malformed instruction data ({exc})") from None
