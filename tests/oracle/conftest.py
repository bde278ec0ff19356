"""The oracle's tests use the real Hardhat node of the root conftest (`hardhat_node`, one per test
module, on a port the node binds itself)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on: for a refused connection, never for a server (a server binds port 0
    itself and reports the port it got, so nothing can take it in between)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
