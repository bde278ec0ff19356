"""Small real git repositories for the PR-mode and CI tests, with contracts of known findings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Slither: reentrancy-eth (high), low-level-calls and solc-version (informational).
VAULT = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract Vault {
    mapping(address => uint256) public balances;

    function deposit() external payable {
        balances[msg.sender] += msg.value;
    }

    function withdraw() external {
        uint256 amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok);
        balances[msg.sender] = 0;
    }
%s}
"""
# Slither: suicidal (high), in Vault.kill: the finding a change adds.
KILL = """
    function kill() external {
        selfdestruct(payable(msg.sender));
    }
"""
HARMLESS = """
    function total() external view returns (uint256) {
        return address(this).balance;
    }
"""

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True)
    return done.stdout.strip()


def init(repo: Path, branch: str = "main") -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", branch)
    return repo


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    """Write `files` (relative path -> text; None deletes), commit everything, return the sha."""
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def vault(extra: str = "") -> str:
    return VAULT % extra
