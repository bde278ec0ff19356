"""Where the generative model runs: a local transformers causal LM (optionally with a peft
adapter), or any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, ...).

Decoding is greedy with a fixed seed by default, so the same prompt gives the same answer
(oracle nodes must agree on the bytes).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from auditor.errors import ReviewError
from auditor.review.llm.prompt import render_plain


class Backend(ABC):
    NAME: ClassVar[str]

    @property
    @abstractmethod
    def model_id(self) -> str: ...

    @abstractmethod
    def generate(self, messages: list[dict], max_new_tokens: int) -> str: ...

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1


class LocalBackend(Backend):
    """A causal LM from a local directory (or a hub id where the user is online). CUDA + bf16 when a
    GPU is present, CPU + float32 otherwise; `quantize` "8bit"/"4bit" needs bitsandbytes."""

    NAME = "local"

    def __init__(self, model: str, adapter: str | None = None, quantize: str | None = None, seed: int = 0) -> None:
        self.model_path, self.adapter, self.quantize, self.seed = model, adapter, quantize, seed
        self._loaded = None

    def _load(self):
        if self._loaded is not None:
            return self._loaded
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cuda = torch.cuda.is_available()
        kwargs: dict = {"dtype": torch.bfloat16 if cuda else torch.float32}
        if self.quantize:
            try:
                import bitsandbytes  # noqa: F401
                from transformers import BitsAndBytesConfig
            except ImportError:
                raise ReviewError(f"SOLSENTRY_LLM_QUANTIZE={self.quantize} needs bitsandbytes (and a GPU)") from None
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=self.quantize == "8bit",
                                                               load_in_4bit=self.quantize == "4bit")
        try:
            tok = AutoTokenizer.from_pretrained(self.model_path)
            model = AutoModelForCausalLM.from_pretrained(self.model_path, **kwargs)
            if self.adapter:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter)
        except (OSError, ValueError) as exc:
            raise ReviewError(f"cannot load the model {self.model_path}"
                              f"{' with adapter ' + self.adapter if self.adapter else ''}: {exc}") from None
        if cuda and not self.quantize:
            model = model.to("cuda")
        model.eval()
        self._loaded = (tok, model)
        return self._loaded

    @property
    def model_id(self) -> str:
        h = hashlib.sha256()
        for root in filter(None, (self.model_path, self.adapter)):
            path = Path(root)
            if not path.is_dir():                   # a hub id: the name is all there is
                h.update(root.encode())
                continue
            for f in sorted(path.iterdir()):
                if f.is_file() and f.suffix in (".json", ".safetensors", ".bin", ".model", ".txt"):
                    # config and adapter files by content; big weight shards by name and size
                    h.update(f.name.encode() + (f.read_bytes() if f.stat().st_size < 50_000_000
                                                else str(f.stat().st_size).encode()))
        return f"{Path(self.model_path).name}@{h.hexdigest()[:16]}"

    def render(self, messages: list[dict]) -> str:
        tok, _ = self._load()
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return render_plain(messages)

    def count_tokens(self, text: str) -> int:
        tok, _ = self._load()
        return len(tok(text, add_special_tokens=False)["input_ids"])

    def generate(self, messages: list[dict], max_new_tokens: int) -> str:
        import torch

        tok, model = self._load()
        torch.manual_seed(self.seed)
        enc = tok(self.render(messages), return_tensors="pt", add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


class OpenAIBackend(Backend):
    """POST {base_url}/chat/completions, temperature 0 and a fixed seed. The API key comes from the
    environment variable named by `api_key_env` and is never logged or put in an error message."""

    NAME = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str = "SOLSENTRY_LLM_API_KEY",
                 timeout_s: float = 300.0, seed: int = 0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key_env, self.timeout_s, self.seed = model, api_key_env, timeout_s, seed

    @property
    def model_id(self) -> str:
        return f"{self.model}@{self.base_url}"

    def generate(self, messages: list[dict], max_new_tokens: int) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0, "seed": self.seed,
                           "max_tokens": max_new_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                doc = json.loads(resp.read(10_000_000))
        except urllib.error.HTTPError as exc:
            raise ReviewError(f"the model endpoint {self.base_url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ReviewError(f"the model endpoint {self.base_url} is unreachable: {exc}") from None
        except ValueError:
            raise ReviewError(f"the model endpoint {self.base_url} answered something that is not JSON") from None
        try:
            return str(doc["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise ReviewError(f"the model endpoint {self.base_url} answered without choices[0].message") from None


def backend_for(model: str, adapter: str | None = None, model_name: str | None = None, quantize: str | None = None,
                api_key_env: str = "SOLSENTRY_LLM_API_KEY", timeout_s: float = 300.0) -> Backend:
    if model.startswith(("http://", "https://")):
        return OpenAIBackend(model, model_name or "default", api_key_env, timeout_s)
    return LocalBackend(model, adapter, quantize)
