"""Generative review: a code LLM (local transformers model, or an OpenAI-compatible endpoint)
reads the contract, the findings and retrieved knowledge, and answers in JSON."""
