"""The requester's side, for the CLI and the demo: build an input, submit it, wait for the answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

from eth_utils import keccak

from oracle.chain.contracts import AuditOracleClient, RequestState, RequestView
from oracle.chain.deploy import Deployment, connect
from oracle.config import OracleSettings
from oracle.errors import OracleError

MAX_INLINE = 8 * 1024  # the contract's MAX_INLINE_INPUT


def build_input(path: Path) -> bytes:
    """The protocol's JSON input: {"files": {relative path: source}} (keys sorted, compact)."""
    root = path if path.is_dir() else path.parent
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.sol") if "node_modules" not in p.parts)
    if not files:
        raise OracleError(f"no Solidity files under {path}")
    doc = {"files": {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in files}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def submit_request(settings: OracleSettings, path: Path, uri: str | None = None, sender: str | None = None,
                   deadline_s: int = 3600) -> tuple[bytes, AuditOracleClient]:
    deployment = Deployment.load(settings.deployment_file)
    w3 = connect(deployment.rpc_url)
    client = AuditOracleClient(w3, deployment.audit_oracle)
    data = build_input(path)
    inline = b""
    if uri is None:
        if len(data) > MAX_INLINE:
            raise OracleError(f"the input is {len(data)} bytes, over the {MAX_INLINE}-byte inline limit: "
                              "publish it and pass --uri")
        inline = data
    sender = sender or w3.eth.accounts[2]
    deadline = w3.eth.get_block("latest")["timestamp"] + deadline_s
    request_id, _ = client.request_audit(sender, keccak(data), uri=uri or "", inline=inline, deadline=deadline)
    return request_id, client


def wait_for_result(client: AuditOracleClient, request_id: bytes, timeout: float) -> RequestView:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get_request(request_id)
        if view.state == RequestState.FINALIZED:
            return view
        if view.state == RequestState.CANCELLED:
            raise OracleError("the request was cancelled")
        time.sleep(0.5)
    raise OracleError(f"no result within {timeout:.0f} s")
