"""LoRA fine-tuning and generation throughput of a ~1.5B causal LM on one GPU, with nothing to download.

The model has the Qwen2.5-1.5B architecture (config written below) and random weights: speed and
memory depend on the shapes, not on the values, so no weights are needed.

Usage: .venv/bin/python benchmarks/gpu_finetune.py [--seq-len 2048] [--batch 4] [--steps 20] [--out FILE]
       .venv/bin/python benchmarks/gpu_finetune.py --cpu-smoke     # tiny model on CPU: checks the script only
Needs the CUDA build of torch (docs/finetuning.md). Prints one JSON object (and writes it to --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
import warnings
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, Qwen2Config

# Qwen2.5-1.5B's published architecture (its config.json); tie_word_embeddings makes the LM head
# share the embedding matrix, as in the released model.
QWEN25_1_5B = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                   num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
                   rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
# Only exercises every code path; its timings mean nothing.
SMOKE = dict(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=2048, rope_theta=1000000.0, rms_norm_eps=1e-6,
             tie_word_embeddings=True)

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# Dense bf16 tensor-core peaks (no sparsity) from the vendors' data sheets, matched against
# torch.cuda.get_device_name(). Variants with other clocks or power limits (H100 NVL, H200 NVL,
# GH200, ...) are left out on purpose: a wrong peak gives a wrong MFU, so they need --peak-tflops.
PEAK_BF16 = [
    (r"H100.*PCIE", 756e12),
    (r"H100.*(HBM3|SXM)", 989e12),
    (r"\bH200\b(?!.*NVL)", 989e12),
    (r"\bA100\b", 312e12),
    (r"\bL40S\b", 362e12),
]

# Per-profile defaults; any flag given on the command line wins.
DEFAULTS = {
    "gpu": dict(seq_len=2048, batch=4, steps=20, warmup=3, gen_tokens=256, prompt_len=512),
    "smoke": dict(seq_len=64, batch=2, steps=3, warmup=1, gen_tokens=8, prompt_len=16),
}
GEN_BATCHES = (1, 8)


def peak_flops(device_name: str) -> float | None:
    for pattern, flops in PEAK_BF16:
        if re.search(pattern, device_name.upper()):
            return flops
    return None


def sync(device: torch.device) -> None:
    # CUDA kernels run asynchronously: without a sync the clock stops before the work is done.
    if device.type == "cuda":
        torch.cuda.synchronize()


def build_model(cpu_smoke: bool, device: torch.device) -> tuple[torch.nn.Module, Qwen2Config]:
    config = Qwen2Config(**(SMOKE if cpu_smoke else QWEN25_1_5B))
    # bf16 weights as a real LoRA run would load them; float32 on CPU, where bf16 matmuls are slow
    # or unsupported. (`dtype` is transformers 5's name for the older `torch_dtype`.)
    dtype = torch.float32 if cpu_smoke else torch.bfloat16
    torch.manual_seed(0)
    # Built on the device: random init of 1.5B parameters on the CPU takes ~30 s on 2 cores, on a GPU ~1 s.
    with device:
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model, config


def train(model, config, args, device: torch.device) -> dict:
    n_params = sum(p.numel() for p in model.parameters())    # tied embeddings counted once
    # Non-reentrant checkpointing works with frozen inputs, so the embeddings need no
    # enable_input_require_grads() hook. (transformers 5 renamed gradient_checkpointing_enable.)
    model.activation_checkpointing_enable({"use_reentrant": False})
    model.config.use_cache = False      # the KV cache is useless in training and clashes with checkpointing
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=LORA_TARGETS, task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        # peft 0.21 still reads transformers' deprecated `is_gradient_checkpointing`; the warning is theirs.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        model = get_peft_model(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, fused=device.type == "cuda")
    on_gpu = device.type == "cuda"

    def step() -> torch.Tensor:
        # Random tokens: the cost of a step does not depend on the token values.
        ids = torch.randint(config.vocab_size, (args.batch, args.seq_len), device=device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on_gpu):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    for _ in range(args.warmup):       # kernel selection, allocator growth, fused-AdamW state creation
        step()
    sync(device)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync(device)
    elapsed = time.perf_counter() - t0

    tokens_per_s = args.batch * args.seq_len * args.steps / elapsed
    # Model FLOPs per trained token = 6 * n_params + 12 * layers * hidden * seq_len:
    #   6N: forward 2N + backward 4N (the usual convention, so figures compare with full fine-tuning;
    #       LoRA skips the frozen weights' gradients (~2N) but checkpointing recomputes the forward
    #       (~2N), so the hardware does about this much work too);
    #   12*L*H*S: attention scores and values, forward and backward, not in N (causal masking
    #       is ignored, as usual).
    # MFU = flops_per_token * tokens/s / peak dense bf16 FLOP/s.
    flops_per_token = 6 * n_params + 12 * config.num_hidden_layers * config.hidden_size * args.seq_len
    peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_flops(device_name(device))
    return {
        "model": model,
        "stats": {
            "parameters": n_params,
            "trainable_parameters": trainable,
            "trainable_percent": round(100 * trainable / n_params, 3),
            "seq_len": args.seq_len,
            "batch": args.batch,
            "warmup_steps": args.warmup,
            "timed_steps": args.steps,
            "step_time_s": round(elapsed / args.steps, 4),
            "train_tokens_per_s": round(tokens_per_s, 1),
            "final_loss": round(float(loss), 4),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if on_gpu else None,
            "flops_per_token": flops_per_token,
            "peak_bf16_flops": peak,
            "mfu": round(flops_per_token * tokens_per_s / peak, 4) if peak else None,
            "mfu_formula": "(6*n_params + 12*layers*hidden*seq_len) * train_tokens_per_s / peak_bf16_flops",
        },
    }


def generation(model, config, args, device: torch.device) -> dict:
    # Serving uses the merged weights (no adapter matmuls per layer), so that is what is timed.
    model = model.merge_and_unload()
    model.activation_checkpointing_disable()
    model.config.use_cache = True
    model.eval()
    out = {"model": "merged LoRA", "prompt_tokens": args.prompt_len, "new_tokens": args.gen_tokens,
           "decoding": "greedy", "includes_prefill": True}

    def run(batch: int, new_tokens: int) -> float:
        ids = torch.randint(config.vocab_size, (batch, args.prompt_len), device=device)
        # min_new_tokens: a random model may emit an end-of-sequence token at any point; every
        # sequence must produce exactly new_tokens for the count to be right.
        kwargs = dict(attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                      do_sample=False, pad_token_id=0)
        sync(device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            generated = model.generate(ids, **kwargs)
        sync(device)
        elapsed = time.perf_counter() - t0
        assert generated.shape == (batch, args.prompt_len + new_tokens), generated.shape
        return elapsed

    for batch in GEN_BATCHES:
        run(batch, 4)               # warm-up: kernels for this batch shape, KV-cache allocation
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        elapsed = run(batch, args.gen_tokens)
        out[f"batch_{batch}"] = {
            "time_s": round(elapsed, 3),
            "tokens_per_s": round(batch * args.gen_tokens / elapsed, 1),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
        }
    return out


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seq-len", type=int, help="tokens per training sequence [2048]")
    ap.add_argument("--batch", type=int, help="sequences per training step [4]")
    ap.add_argument("--steps", type=int, help="timed training steps [20]")
    ap.add_argument("--warmup", type=int, help="untimed training steps first [3]")
    ap.add_argument("--gen-tokens", type=int, help="new tokens per generated sequence [256]")
    ap.add_argument("--peak-tflops", type=float,
                    help="peak dense bf16 TFLOP/s of the GPU (required where it is not in the built-in table)")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny float32 model on CPU; checks the script runs")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    for key, value in DEFAULTS["smoke" if args.cpu_smoke else "gpu"].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if min(args.seq_len, args.batch, args.steps, args.gen_tokens) < 1 or args.warmup < 0:
        ap.error("--seq-len, --batch, --steps and --gen-tokens must be >= 1, --warmup >= 0")
    if not args.cpu_smoke:
        if not torch.cuda.is_available():
            ap.error(f"no CUDA device (torch {torch.__version__}); install the CUDA build of torch "
                     "(docs/finetuning.md) or run --cpu-smoke")
        # Checked before the model is built, so a missing peak costs seconds rather than a whole run.
        name = torch.cuda.get_device_name(0)
        if args.peak_tflops is None and peak_flops(name) is None:
            ap.error(f"no peak bf16 FLOP/s known for {name!r}: give --peak-tflops")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    model, config = build_model(args.cpu_smoke, device)
    trained = train(model, config, args, device)
    result = {
        "benchmark": "gpu_finetune",
        "profile": "cpu-smoke (timings meaningless)" if args.cpu_smoke else "qwen2.5-1.5b architecture, random weights",
        "device": device_name(device),
        "dtype": "float32" if args.cpu_smoke else "bfloat16 weights, bf16 autocast",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "cuda": torch.version.cuda, "python": platform.python_version()},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": LORA_TARGETS},
        "gradient_checkpointing": True,
        "attention": config._attn_implementation,
        "train": trained["stats"],
    }
    result["generate"] = generation(trained["model"], config, args, device)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
