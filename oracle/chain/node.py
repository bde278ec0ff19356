"""A local Hardhat node: start it detached, wait until it answers, stop it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from auditor.perms import private_dir
from oracle.config import OracleSettings
from oracle.errors import ChainError


@dataclass
class NodeInfo:
    url: str
    pid: int
    log: str
    chain_id: int


def rpc_chain_id(url: str, timeout: float = 2.0) -> int | None:
    """The chain id an endpoint reports, or None when it does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(json.loads(resp.read())["result"], 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(settings: OracleSettings) -> NodeInfo | None:
    try:
        info = NodeInfo(**json.loads(settings.node_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(info.pid) and rpc_chain_id(info.url) is not None:
        return info
    return None


def start(settings: OracleSettings, port: int = 8545, host: str = "127.0.0.1") -> tuple[NodeInfo, bool]:
    """Start a node (or find the one already started); returns (info, started_now). Port 0: the
    node binds a free port itself (Hardhat can) and prints its URL, read back from its log; a port
    chosen beforehand could be taken by another program before the node binds it."""
    running = status(settings)
    if running is not None:
        return running, False
    if not settings.hardhat.is_file():
        raise ChainError(f"Hardhat is not installed ({settings.hardhat}); run `make` first")
    if port:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                raise ChainError(f"port {port} on {host} is already in use by another program")
    private_dir(settings.chain_dir)
    log = settings.chain_dir / f"hardhat-node-{port or 'starting'}.log"
    url = f"http://{host}:{port}" if port else None
    with open(log, "wb") as out:
        # The real binary, not npx, so the PID is the node's own; its own session so it outlives us.
        proc = subprocess.Popen([str(settings.hardhat), "node", "--hostname", host, "--port", str(port)],
                                cwd=settings.hardhat.parent.parent.parent, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"})
    deadline = time.monotonic() + settings.node_start_timeout_s
    while time.monotonic() < deadline:
        if url is None and (url := _started_url(log)) is not None:
            # Named after its port like a fixed-port node's (the node keeps writing to it).
            log = log.rename(settings.chain_dir / f"hardhat-node-{port_of(url)}.log")
        chain_id = rpc_chain_id(url, timeout=1.0) if url else None
        if chain_id is not None:
            info = NodeInfo(url, proc.pid, str(log), chain_id)
            settings.node_file.write_text(json.dumps(asdict(info)))
            return info, True
        if proc.poll() is not None:
            raise ChainError(f"the Hardhat node exited with code {proc.returncode}; see {log}")
        time.sleep(0.2)
    _terminate(proc.pid)
    raise ChainError(f"the Hardhat node did not answer within {settings.node_start_timeout_s:.0f} s; see {log}")


def _started_url(log: Path) -> str | None:
    """The URL in Hardhat's "Started HTTP and WebSocket JSON-RPC server at http://HOST:PORT/"."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r"JSON-RPC server at (http://[^\s/]+)", text)
    return found.group(1) if found else None


def stop(settings: OracleSettings) -> NodeInfo | None:
    try:
        info = NodeInfo(**json.loads(settings.node_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(info.pid):
        _terminate(info.pid)
    settings.node_file.unlink(missing_ok=True)
    return info


def _terminate(pid: int, grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                waited, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                waited = 0
            if waited == pid or not _alive(pid):
                return
            time.sleep(0.1)


def port_of(url: str) -> int:
    return urlparse(url).port or 8545


def log_path(info: NodeInfo) -> Path:
    return Path(info.log)
