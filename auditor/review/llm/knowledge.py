"""A small knowledge base of weaknesses and fixes (`knowledge/swc.yaml`, in SolSentry's own
words), retrieved for a prompt by embedding similarity with the bundled MiniLM encoder."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from auditor.errors import ReviewError
from auditor.findings import Category
from auditor.swc import normalize_swc

KB_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "swc.yaml"


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    category: str
    weakness: str
    signs: str
    fix: str

    def text(self) -> str:
        return f"{self.id} {self.title} ({self.category}): {self.weakness} Signs: {self.signs} Fix: {self.fix}"


@cache
def entries(path: Path = KB_PATH) -> tuple[Entry, ...]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return tuple(Entry(**{k: str(v).strip() for k, v in e.items()}) for e in data)
    except (OSError, TypeError, yaml.YAMLError) as exc:
        raise ReviewError(f"knowledge base {path} is unreadable: {exc}") from None


def entry_for(category: str, swc: str | None = None, path: Path = KB_PATH) -> str | None:
    """The id of the entry that describes a finding of `category` (a `Category` value) and `swc`:
    the SWC's own entry, else the class's first entry, else its DASP class's first (a class with
    no entry of its own still gets the broader note), else None. No embedding: a plain lookup."""
    kb = entries(path)
    key = normalize_swc(swc)
    if key is not None and any(e.id == key for e in kb):
        return key
    wanted = [category]
    with suppress(ValueError):  # not a class of ours: only an entry of that exact name can match
        wanted.append(Category(category).dasp.value)
    for name in wanted:
        found = next((e.id for e in kb if e.category == name), None)
        if found is not None:
            return found
    return None


class Retriever:
    """Cosine similarity between MiniLM sentence embeddings (mean-pooled, normalized) of the
    query and of each entry. Entries are embedded once per process."""

    def __init__(self, path: Path = KB_PATH) -> None:
        self.entries = entries(path)
        self._model = None
        self._matrix = None

    def _embed(self, texts: list[str]):
        import torch

        from auditor.review.net import base_model_dir, offline_mode

        if self._model is None:
            offline_mode()
            from transformers import AutoModel, AutoTokenizer

            base = str(base_model_dir())
            self._model = (AutoTokenizer.from_pretrained(base, local_files_only=True),
                           AutoModel.from_pretrained(base, local_files_only=True).eval())
        tok, model = self._model
        with torch.inference_mode():
            enc = tok(texts, truncation=True, max_length=256, padding=True, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vecs = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(vecs, dim=-1)

    def search(self, query: str, k: int = 4, always: tuple[str, ...] = ()) -> list[Entry]:
        """The `k` entries nearest to `query`, after the entries named in `always` (e.g. the SWC ids
        of the findings under review), without duplicates, in a deterministic order."""
        if self._matrix is None:
            self._matrix = self._embed([e.text() for e in self.entries])
        scores = (self._matrix @ self._embed([query])[0]).tolist()
        ranked = sorted(range(len(self.entries)), key=lambda i: (-round(scores[i], 6), self.entries[i].id))
        chosen = [e for e in self.entries if e.id in always]
        for i in ranked:
            if len(chosen) >= k + len(always):
                break
            if self.entries[i] not in chosen:
                chosen.append(self.entries[i])
        return chosen
