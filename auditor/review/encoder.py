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
from auditor.review.evidence import Facts, as_evidence, words
from auditor.review.llm.knowledge import entry_for
from auditor.review.source import Function, functions, strip_comments
from auditor.review.texts import CATEGORIES, finding_context, finding_meta, function_text

MODEL_DIR = Path(__file__).resolve().parent / "model"
REVIEW_TOOL = "solsentry-review"
SCORE_DIGITS = 3
CONFIDENT = 0.9        # a guard's evidence is overruled only by a triage score this high
_LOADED: dict = {}     # (model directory, model id) -> the loaded model, one per process
NEVER = 1.01           # ... and never by a model trained without the facts (it cannot have weighed them)


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

    def load(self) -> None:
        """Load the model now (a warm worker does before its first audit)."""
        self._model()

    def _model(self):
        if self._loaded is None:
            from auditor.errors import ReviewError
            from auditor.review.net import load

            # A warm audit worker (auditor/runtime/warm.py) reviews many audits: the model is loaded
            # once per process and model files (the id is their hash: a changed model loads anew).
            try:
                key = (str(self.model_dir.resolve()), self.model_id)
            except ReviewError:             # no id: `load` says what is wrong with the model's files
                self._loaded = load(self.model_dir)
                return self._loaded
            if key not in _LOADED:
                _LOADED.clear()
                _LOADED[key] = load(self.model_dir)
            self._loaded = _LOADED[key]
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
        facts = Facts(sources)
        # A model trained with the code facts in its triage text reads them; an older one (trained
        # without) reads the text it was trained on.
        with_facts = bool(self.config.get("triage_facts"))
        texts = []
        for f in findings:
            lines, funcs = _parsed(cache, sources, f.primary.file)
            fact_words = words(*facts.for_finding(f, f.category.dasp.value)) if with_facts else ""
            texts.append((finding_meta(f, fact_words), finding_context(f, lines, funcs)))
        return [s[0] for s in self._scores(texts, "triage", self.config["max_length"]["triage"])] if texts else []

    def function_scores(self, funcs: list[Function]) -> list[list[float]]:
        if not funcs:
            return []
        return self._scores([function_text(f) for f in funcs], "detect", self.config["max_length"]["function"])

    # ---- the review -----------------------------------------------------------------------
    def score(self, findings: list[Finding], sources: Mapping[str, str]) -> Scores:
        """The model's raw scores: per judged finding, and per function of every source file."""
        judged = [f for f in findings if f.category.dasp.value in CATEGORIES and f.primary.file in sources]
        scores = Scores(triage=dict(zip([f.id for f in judged], self.triage_scores(judged, sources), strict=True)))
        for path in sorted(sources):
            funcs = [f for f in functions(sources[path]) if f.end_line > f.start_line or len(f.code) > 20]
            scores.functions[path] = list(zip(funcs, self.function_scores(funcs), strict=True))
        return scores

    def review(self, findings: list[Finding], sources: Mapping[str, str]) -> Review:
        cfg = self.config
        # Only a model that read the facts can have weighed a guard, and so overrule it.
        overrule = CONFIDENT if cfg.get("triage_facts") else NEVER
        return decide(findings, sources, self.score(findings, sources), cfg["categories"], cfg["thresholds"],
                      self.model_id, overrule)


@dataclass
class Scores:
    triage: dict[str, float] = field(default_factory=dict)                          # finding id -> score
    functions: dict[str, list[tuple[Function, list[float]]]] = field(default_factory=dict)   # path -> scores


def decide(findings: list[Finding], sources: Mapping[str, str], scores: Scores, categories: list[str],
           thresholds: dict, model_id: str, overrule: float = CONFIDENT) -> Review:
    """Scores and code facts -> verdicts and model-only findings, under the shipped thresholds.

    A verdict is `likely_false` only with evidence: a guard on the finding's path (a lock, a caller
    check, a tested call result, ...) that the triage does not overrule with a confident score. A
    score at or above the triage threshold is `likely_true`; anything else is `unsure` (the review
    abstains). A function gets at most one finding of the model's own: its best class above that
    class's threshold, where the code shows a weakness fact of the class and no guard against it,
    and no tool finding of the class (not judged likely false) already sits in it. The finding
    points at the statement(s) of the fact, not the whole function."""
    result = Review(model=model_id)
    facts = Facts(sources)
    t = thresholds["triage"]
    for f in findings:
        if f.id not in scores.triage:
            continue
        result.verdicts[f.id] = _verdict(f, scores.triage[f.id], t, facts, model_id, overrule)
    detect = thresholds["detect"]
    believed: dict[tuple[str, str], list[int]] = {}
    for f in findings:
        v = result.verdicts.get(f.id)
        if v is None or v.label != "likely_false":
            believed.setdefault((f.primary.file, f.category.dasp.value), []).append(f.primary.start_line)
    for path in sorted(scores.functions):
        lines = sources[path].splitlines()
        ff = facts.of(path)
        for func, row in scores.functions[path]:
            best = None
            for category, score in zip(categories, row, strict=True):
                limit = detect.get(category, detect.get("default", 1.0)) if isinstance(detect, dict) else detect
                if score < limit or any(func.covers(n) for n in believed.get((path, category), ())):
                    continue
                guards, weak = facts.for_function(ff, func, category)
                if guards or not weak:
                    continue
                if best is None or score - limit > best[0]:
                    best = (score - limit, category, score, limit, weak)
            if best is not None:
                _, category, score, limit, weak = best
                result.findings.append(_model_finding(path, func, category, score, limit, weak, lines, model_id))
    return result


def _verdict(f: Finding, score: float, threshold: float, facts: Facts, model_id: str, overrule: float) -> Verdict:
    guards, weak = facts.for_finding(f, f.category.dasp.value)
    kb = entry_for(f.category.value, f.swc)
    if guards and score < overrule:
        label = "likely_false"
        reason = f"{guards[0].detail} (line {guards[0].line}); the triage model scores the finding {score:.3f}"
        reason += (f", below the {overrule} it would need to overrule the guard" if overrule <= 1 else
                   " (this model does not read code facts, so it cannot overrule a guard)")
    elif score >= threshold:
        label = "likely_true"
        reason = f"the triage model scores the finding {score:.3f}, at or above its threshold {threshold:.3f}"
        if weak:
            reason += f"; {weak[0].detail} (line {weak[0].line})"
        if guards:
            reason += f"; it overrules {guards[0].detail}"
    else:
        label = "unsure"
        reason = (f"no guard found, and the triage model's score {score:.3f} is below its threshold "
                  f"{threshold:.3f}: the review abstains; check the finding by hand")
    return Verdict(label=label, score=score, model=model_id, reason=reason, evidence=as_evidence(guards + weak),
                   knowledge=kb)


def _parsed(cache: dict, sources: Mapping[str, str], path: str) -> tuple[list[str], list[Function]]:
    if path not in cache:
        src = sources[path]
        cache[path] = (strip_comments(src).splitlines(), functions(src))
    return cache[path]


def _model_finding(path: str, func: Function, category: str, score: float, limit: float, weak: list, lines: list[str],
                   model: str) -> Finding:
    fact = weak[0]
    loc = Location(file=path, start_line=fact.line, end_line=max(fact.line, fact.end_line), contract=func.contract,
                   function=func.name)
    cat = Category(category)
    words_ = category.replace("_", " ")
    reason = f"the review model scores `{func.name}` {score:.3f} for {words_} (threshold {limit:.3f}); {fact.detail}"
    return Finding(
        id=finding_id(f"model:{category}", None, loc),
        fingerprint=make_fingerprint(f"model:{category}", None, loc, lines),
        title=f"Possible {words_} (review model)", swc=None, category=cat,
        severity=Severity.MEDIUM, confidence=Confidence.LOW, locations=[loc],
        description=(f"{reason[0].upper()}{reason[1:]}, with no guard against it, and no tool reported it here. A "
                     "model-only finding is advisory: it is not counted by --fail-on; check it by hand."),
        tools=[REVIEW_TOOL], reporters=[Reporter(tool=REVIEW_TOOL, detector=f"review-{category}",
                                                 severity=Severity.MEDIUM, confidence=Confidence.LOW)],
        origin="model", review=Verdict(label="likely_true", score=score, model=model, reason=reason,
                                       evidence=as_evidence(weak[:2]), knowledge=entry_for(category, None)))
