"""The generative reviewer: one prompt per source file, JSON answers, bounded repair and retry.

The model annotates, it never deletes: its verdicts are attached to the tool findings (a
`false_positive` becomes `likely_false`, with the model's reason), its new findings are added
with `origin: "model"`, and a file whose answers stay invalid after the retries is listed as a
review failure in the report instead of being silently left unreviewed.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.errors import ReviewError
from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity, Verdict, finding_id
from auditor.findings import fingerprint as make_fingerprint
from auditor.review.base import Review, Reviewer
from auditor.review.llm import prompt as prompts
from auditor.review.llm.answer import Answer, AnswerError, parse
from auditor.review.llm.backends import Backend, backend_for
from auditor.review.llm.knowledge import Retriever
from auditor.review.source import function_at, functions

LLM_TOOL = "solsentry-llm"


class LLMReviewer(Reviewer):
    NAME = "llm"
    HOSTED = False          # the model or endpoint is the caller's: not offered by the HTTP service
    DESCRIPTION = "A generative code LLM (local or OpenAI-compatible endpoint) writes the review as JSON"

    def __init__(self, model: str | None = None, adapter: str | None = None, model_name: str | None = None,
                 backend: Backend | None = None, max_new_tokens: int | None = None,
                 context_tokens: int | None = None, attempts: int | None = None, knowledge_k: int = 4) -> None:
        from auditor.config import get_settings

        s = get_settings()
        model = model or s.llm_model
        if backend is None and not model:
            raise ReviewError("--review llm needs a model: --model PATH_OR_URL (or SOLSENTRY_LLM_MODEL)")
        self.backend = backend or backend_for(model, adapter or s.llm_adapter, model_name or s.llm_model_name,
                                              s.llm_quantize, s.llm_api_key_env, s.llm_timeout_s)
        self.max_new_tokens = max_new_tokens or s.llm_max_new_tokens
        self.context_tokens = context_tokens or s.llm_context_tokens
        self.attempts = attempts or s.llm_attempts
        self.knowledge_k = knowledge_k
        self._retriever: Retriever | None = None

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    def prompt_for(self, path: str, source: str, findings: list[Finding]) -> prompts.Prompt:
        if self._retriever is None:
            self._retriever = Retriever()
        knowledge = self._retriever.search(prompts.query_text(findings, source), self.knowledge_k,
                                           always=tuple(sorted({f.swc for f in findings if f.swc})))
        return prompts.build(path, source, findings, knowledge, self.context_tokens, self.max_new_tokens,
                             self.backend.count_tokens)

    def ask(self, p: prompts.Prompt) -> Answer:
        """Generate, parse; on an invalid answer show the model its output and the error and ask
        again, at most `attempts` times in all."""
        messages = list(p.messages)
        error: AnswerError | None = None
        for _ in range(self.attempts):
            text = self.backend.generate(messages, self.max_new_tokens)
            try:
                return parse(text)
            except AnswerError as exc:
                error = exc
                messages = [*p.messages, {"role": "assistant", "content": text[:4000]},
                            {"role": "user", "content": f"That answer was rejected: {exc}. Reply again with only "
                                                        "the JSON object, valid against the schema."}]
        raise error or AnswerError("no answer")

    def review(self, findings: list[Finding], sources: Mapping[str, str]) -> Review:
        result = Review(model=self.model_id)
        by_file: dict[str, list[Finding]] = {}
        for f in findings:
            by_file.setdefault(f.primary.file, []).append(f)
        for path in sorted(sources):
            mine = by_file.get(path, [])
            try:
                answer = self.ask(self.prompt_for(path, sources[path], mine))
            except ReviewError as exc:
                result.failures.append(f"{path}: {exc}")
                continue
            known = {f.id for f in mine}
            for v in answer.verdicts:
                if v.id in known:
                    result.verdicts[v.id] = Verdict(
                        label="likely_true" if v.verdict == "true_positive" else "likely_false",
                        score=1.0 if v.verdict == "true_positive" else 0.0, model=self.model_id,
                        reason=v.reason.strip()[:2000] or None)
            lines = sources[path].splitlines()
            funcs = functions(sources[path])
            for nf in answer.findings:
                if nf.file.lstrip("./") != path.lstrip("./") or nf.line > len(lines):
                    continue                    # a place that does not exist in this file is not a finding
                result.findings.append(_llm_finding(path, nf, lines, funcs, self.model_id))
        if result.failures and not result.verdicts and not result.findings and len(result.failures) == len(sources):
            raise ReviewError("the model gave no valid answer: " + "; ".join(result.failures)[:1000])
        return result


def _llm_finding(path: str, nf, lines: list[str], funcs, model: str) -> Finding:
    func = function_at(funcs, nf.line)
    loc = Location(file=path, start_line=nf.line, end_line=nf.line, contract=func.contract if func else None,
                   function=func.name if func else None)
    description = nf.reason.strip() + (f"\n\nFix: {nf.fix.strip()}" if nf.fix.strip() else "")
    key = f"llm:{Category(nf.category).dasp.value}"     # keyed by DASP class, like tool findings
    return Finding(
        id=finding_id(key, None, loc),
        fingerprint=make_fingerprint(key, None, loc, lines),
        title=f"{nf.title.strip()[:200]} (review model)", swc=None, category=Category(nf.category),
        severity=Severity.MEDIUM, confidence=Confidence.LOW, locations=[loc],
        description=f"Stated by the review model {model}, not by a tool:\n{description}",
        tools=[LLM_TOOL], reporters=[Reporter(tool=LLM_TOOL, detector=f"llm-{nf.category}",
                                              severity=Severity.MEDIUM, confidence=Confidence.LOW)],
        origin="model", review=Verdict(label="likely_true", score=1.0, model=model, reason="found by the model"))
