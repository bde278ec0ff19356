"""Request events from the chain, into the job store.

Reads `AuditRequested` / `CodeAuditRequested` logs with eth_getLogs from a persisted cursor, only
once they are `confirmations` blocks deep, in bounded block ranges. Inserting the jobs and moving
the cursor is one store transaction, so a crash neither loses nor skips a request, and a restart
back-fills from where it stopped. Duplicates (by request id or by tx hash + log index) are ignored.
Every RPC call goes through the node's retrying RPC (`chain/retry.py`), as the tx manager's do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from web3 import Web3

from oracle.chain.contracts import AuditOracleClient
from oracle.chain.retry import RetryingRpc
from oracle.store import Job, JobState, JobStore

log = logging.getLogger(__name__)


@dataclass
class ListenerConfig:
    confirmations: int = 1
    max_range: int = 500
    start_block: int = 0        # the oracle's deployment block


class Listener:
    def __init__(self, oracle: AuditOracleClient, store: JobStore, config: ListenerConfig,
                 rpc: RetryingRpc | None = None) -> None:
        self.oracle = oracle
        self.w3: Web3 = oracle.w3
        self.store = store
        self.config = config
        self.rpc = rpc or RetryingRpc()
        chain_id = self.rpc("eth_chainId", lambda: self.w3.eth.chain_id)
        self.cursor_name = f"{chain_id}:{oracle.address}"
        events = oracle.contract.events
        self._events = {e.topic: e for e in (events.AuditRequested(), events.CodeAuditRequested())}

    def safe_head(self) -> int:
        return self.rpc("eth_blockNumber", lambda: self.w3.eth.block_number) - self.config.confirmations + 1

    def poll(self) -> int:
        """Read every confirmed block range since the cursor; returns how many jobs were new."""
        done = self.store.cursor(self.cursor_name)
        start = (self.config.start_block if done is None else done + 1)
        safe = self.safe_head()
        added = 0
        while start <= safe:
            end = min(start + self.config.max_range - 1, safe)
            query = {"address": self.oracle.address, "fromBlock": start, "toBlock": end,
                     "topics": [list(self._events)]}
            logs = self.rpc("eth_getLogs", lambda q=query: self.w3.eth.get_logs(q))
            jobs = [self._job(entry) for entry in logs]
            added += self.store.add_jobs([j for j in jobs if j is not None], self.cursor_name, end)
            start = end + 1
        if added:
            log.info("listener: %d new request(s), cursor at block %d", added, safe)
        return added

    def _job(self, entry) -> Job | None:
        topic = entry["topics"][0]
        topic = topic if isinstance(topic, str) else "0x" + bytes(topic).hex()
        event = self._events.get(topic if topic.startswith("0x") else "0x" + topic)
        if event is None:
            return None
        args = event.process_log(entry)["args"]
        common = {
            "request_id": "0x" + bytes(args["requestId"]).hex(), "state": JobState.RECEIVED,
            "requester": args["requester"], "deadline": args["deadline"], "block_number": entry["blockNumber"],
            "tx_hash": "0x" + bytes(entry["transactionHash"]).hex(), "log_index": entry["logIndex"],
        }
        if "target" in args:
            return Job(kind="code", input_hash="0x" + bytes(args["codeHash"]).hex(), input_uri="",
                       inline_input=None, target=args["target"], **common)
        inline = bytes(args["inlineInput"])
        return Job(kind="source", input_hash="0x" + bytes(args["inputHash"]).hex(), input_uri=args["inputUri"],
                   inline_input=inline or None, target=None, **common)
