"""EIP-1559 fees of one wallet under a cap: tip = `max_priority_fee_wei`, maxFeePerGas =
min(`max_fee_cap_wei`, 2 * baseFee + tip); a bump raises both by at least `fee_bump_percent`.
A base fee (or a needed bump) above the cap raises `FeeCapError`: nothing is signed."""

from __future__ import annotations

import math
from fractions import Fraction

from web3 import Web3

from oracle.chain.errors import FeeCapError
from oracle.chain.retry import RetryingRpc
from oracle.chain.sent import SentTx
from oracle.errors import ChainError


class FeePolicy:
    def __init__(self, w3: Web3, settings, rpc: RetryingRpc) -> None:
        self.w3 = w3
        self.settings = settings
        self.rpc = rpc

    def base_fee(self) -> int:
        block = self.rpc("eth_getBlockByNumber", lambda: self.w3.eth.get_block("latest"))
        base = block.get("baseFeePerGas")
        if base is None:
            raise ChainError("the chain has no EIP-1559 base fee (pre-London); legacy gas pricing is not supported")
        return int(base)

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a new transaction now; `FeeCapError` when the
        base fee is above the cap."""
        base, cap = self.base_fee(), self.settings.max_fee_cap_wei
        if base > cap:
            raise FeeCapError(f"base fee {base} wei is above the fee cap {cap} wei (max_fee_cap_wei): "
                              f"not sending; raise SOLSENTRY_MAX_FEE_CAP_WEI or wait for cheaper blocks")
        max_fee = min(cap, 2 * base + self.settings.max_priority_fee_wei)
        return max_fee, min(self.settings.max_priority_fee_wei, max_fee)

    def bumped(self, sent: SentTx) -> tuple[int, int]:
        factor = 1 + Fraction(str(self.settings.fee_bump_percent)) / 100
        min_max = max(math.ceil(sent.max_fee_per_gas * factor), sent.max_fee_per_gas + 1)
        min_tip = max(math.ceil(sent.max_priority_fee_per_gas * factor), sent.max_priority_fee_per_gas + 1)
        cap = self.settings.max_fee_cap_wei
        if min_max > cap:
            raise FeeCapError(f"cannot bump tx {sent.tx_hash} (nonce {sent.nonce}): a replacement needs "
                              f"maxFeePerGas >= {min_max} wei, above the fee cap {cap} wei (max_fee_cap_wei)")
        tip = max(min_tip, self.settings.max_priority_fee_wei)
        max_fee = min(cap, max(min_max, 2 * self.base_fee() + tip))
        return max_fee, min(tip, max_fee)

