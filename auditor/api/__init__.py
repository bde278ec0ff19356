"""The HTTP service (`solsentry serve`): audits over FastAPI, a persistent SQLite job queue,
worker processes with time and memory limits, API keys with rate limits."""
