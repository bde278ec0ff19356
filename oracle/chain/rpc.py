"""One way to open a JSON-RPC connection, so every caller gets the same settings."""

from __future__ import annotations

from web3 import Web3


def web3_for(url: str, timeout: float = 10.0) -> Web3:
    """A Web3 over HTTP whose `eth_chainId` answer is cached.

    web3.py's validation middleware asks for the chain id before every `eth_call` and
    `eth_estimateGas`: uncached, that doubles the round trips of the node's hot path. A chain's
    id does not change under a running endpoint, so caching it loses nothing."""
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True,
                                  cacheable_requests={"eth_chainId"}))
