"""The embedded reviewer: the LoRA-fine-tuned MiniLM that ships with SolSentry, on any CPU.

Verdicts are deterministic: inputs are scored in a fixed order (sorted by text) with the model in
eval mode, and scores are rounded before they meet a threshold, so the same input gives the same
report bytes (oracle nodes must agree on them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity, Verdict, finding_id
from auditor.findings import fingerprint as make_fingerprint
from auditor.review.base import Review, Reviewer
from auditor.review.source import Function, functions, strip_comments
from auditor.review.texts import CATEGORIES, finding_context, finding_meta, function_text

MODEL_DIR = Path(__file__).resolve().parent / "model"
REVIEW_TOOL = "solsentry-review"
SCORE_DIGITS = 3


class EncoderReviewer(Reviewer):
    NAME = "embedded"
    DESCRIPTION = "LoRA-fine-tuned MiniLM encoder: triages tool findings, flags functions per weakness category"

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32) -> None:
        self.model_dir = Path(model_dir or MODEL_DIR)
        self.batch_size = batch_size
        self._loaded = None
        self._id: str | None = None

    @property
    def model_id(self) -> str:
        if self._id is None:       # from the files alone: naming the model must not load torch
            import json

            from auditor.errors import ReviewError
            from auditor.review.net import files_hash

            try:
                name = json.loads((self.model_dir / "review.json").read_text()).get("name", "review")
            except (OSError, ValueError, AttributeError) as exc:
                raise ReviewError(f"no usable review model at {self.model_dir} ({exc})") from None
            self._id = f"{name}@{files_hash(self.model_dir)}"
        return self._id

    @property
    def config(self) -> dict:
        return self._model().config

    def _model(self):
        if self._loaded is None:
            from auditor.review.net import load

            self._loaded = load(self.model_dir)
        return self._loaded

    # ---- scoring ------------------------------------------------------------------------
    def _scores(self, texts: list, head: str, max_length: int) -> list[list[float]]:
        """Per text, the sigmoid scores of `head`, in input order (computed in sorted order)."""
        import torch

        from auditor.review.net import batches

        m = self._model()
        order = sorted(range(len(texts)), key=lambda i: (len(str(texts[i])), str(texts[i])))
        out: list[list[float]] = [[] for _ in texts]
        logits_of = m.net.triage_logits if head == "triage" else m.net.detect_logits
        done = 0
        with torch.inference_mode():
            for ids, mask in batches(m.tokenizer, [texts[i] for i in order], max_length, self.batch_size):
                probs = torch.sigmoid(logits_of(ids, mask)).reshape(ids.shape[0], -1).tolist()
                for row in probs:
                    out[order[done]] = [round(p, SCORE_DIGITS) for p in row]
                    done += 1
        return out

    def triage_scores(self, findings: list[Finding], sources: Mapping[str, str]) -> list[float]:
        cache: dict[str, tuple[list[str], list[Function]]] = {}
        texts = []
        for f in findings:
            lines, funcs = _parsed(cache, sources, f.primary.file)
            texts.append((finding_meta(f), finding_context(f, lines, funcs)))
        return [s[0] for s in self._scores(texts, "triage", self.config["max_length"]["triage"])] if texts else []

    def function_scores(self, funcs: list[Function]) -> list[list[float]]:
        if not funcs:
            return []
        return self._scores([function_text(f) for f in funcs], "detect", self.config["max_length"]["function"])

    # ---- the review -----------------------------------------------------------------------
    def score(self, findings: list[Finding], sources: Mapping[str, str]) -> Scores:
        """The model's raw scores: per judged finding, and per function of every source file."""
        judged = [f for f in findings if f.category.value in CATEGORIES and f.primary.file in sources]
        scores = Scores(triage=dict(zip([f.id for f in judged], self.triage_scores(judged, sources), strict=True)))
        for path in sorted(sources):
            funcs = [f for f in functions(sources[path]) if f.end_line > f.start_line or len(f.code) > 20]
            scores.functions[path] = list(zip(funcs, self.function_scores(funcs), strict=True))
        return scores

    def review(self, findings: list[Finding], sources: Mapping[str, str]) -> Review:
        cfg = self.config
        return decide(findings, sources, self.score(findings, sources), cfg["categories"], cfg["thresholds"],
                      self.model_id)


@dataclass
class Scores:
    triage: dict[str, float] = field(default_factory=dict)                          # finding id -> score
    functions: dict[str, list[tuple[Function, list[float]]]] = field(default_factory=dict)   # path -> scores


def decide(findings: list[Finding], sources: Mapping[str, str], scores: Scores, categories: list[str],
           thresholds: dict, model_id: str) -> Review:
    """Scores -> verdicts and model-only findings, under the shipped thresholds. A function the
    model flags for a category gets a finding unless a tool finding of that category, not judged
    likely false, already sits in it (the model adds what the tools missed)."""
    result = Review(model=model_id)
    t = thresholds["triage"]
    for f in findings:
        if f.id in scores.triage:
            score = scores.triage[f.id]
            label = "likely_true" if score >= t else "likely_false"
            result.verdicts[f.id] = Verdict(label=label, score=score, model=model_id,
                                            reason=f"triage score {score:.3f} against threshold {t:.3f}")
    detect = thresholds["detect"]
    # (path, category) -> lines of tool findings the model believes, to skip what tools already report
    believed: dict[tuple[str, str], list[int]] = {}
    for f in findings:
        v = result.verdicts.get(f.id)
        if v is None or v.label == "likely_true":
            believed.setdefault((f.primary.file, f.category.value), []).append(f.primary.start_line)
    for path in sorted(scores.functions):
        lines = sources[path].splitlines()
        for func, row in scores.functions[path]:
            for category, score in zip(categories, row, strict=True):
                limit = detect.get(category, detect.get("default", 1.0)) if isinstance(detect, dict) else detect
                if score < limit or any(func.covers(n) for n in believed.get((path, category), ())):
                    continue
                result.findings.append(_model_finding(path, func, category, score, lines, model_id))
    return result


def _parsed(cache: dict, sources: Mapping[str, str], path: str) -> tuple[list[str], list[Function]]:
    if path not in cache:
        src = sources[path]
        cache[path] = (strip_comments(src).splitlines(), functions(src))
    return cache[path]


def _model_finding(path: str, func: Function, category: str, score: float, lines: list[str], model: str) -> Finding:
    loc = Location(file=path, start_line=func.start_line, end_line=func.end_line, contract=func.contract,
                   function=func.name)
    cat = Category(category)
    words = category.replace("_", " ")
    return Finding(
        id=finding_id(f"model:{category}", None, loc),
        fingerprint=make_fingerprint(f"model:{category}", None, loc, lines),
        title=f"Possible {words} (review model)", swc=None, category=cat,
        severity=Severity.MEDIUM, confidence=Confidence.LOW, locations=[loc],
        description=(f"The review model {model} scores `{func.name}` {score:.3f} for {words}, and no tool reported "
                     "it here. A model-only finding is advisory: it is not counted by --fail-on; check it by hand."),
        tools=[REVIEW_TOOL], reporters=[Reporter(tool=REVIEW_TOOL, detector=f"review-{category}",
                                                 severity=Severity.MEDIUM, confidence=Confidence.LOW)],
        origin="model", review=Verdict(label="likely_true", score=score, model=model,
                                       reason="found by the review model; no tool reported it"))
