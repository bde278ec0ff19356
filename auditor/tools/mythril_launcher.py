"""Runs Mythril's CLI with the compiler SolSentry chose (stdlib only: runs in Mythril's own venv).

Usage: SOLC=/path/to/solc SOLSENTRY_SOLC_VERSION=0.4.26 python mythril_launcher.py analyze ...

Why: offline, Mythril cannot list solc versions, so `extract_binary` returns no version,
Mythril assumes >= 0.8 and silently skips its integer-overflow module (SWC-101). It also
asks the network for the version list when `mythril.ethereum.util` is imported. Both are
answered here from the environment instead.

It also says on stderr when a budget ran out before Mythril finished (`BUDGET_MARK` and which:
`execution` for --execution-timeout, `creation` for --create-timeout): Mythril then reports what
it found so far and says so at debug level only, so without this a run cut short by its budget
looks like a clean one.
"""

import os
import sys

# Run as a script, this file's directory comes first on sys.path, and it holds SolSentry's own
# mythril.py adapter, which would shadow the real `mythril` package.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)


BUDGET_MARK = "solsentry-mythril: budget exhausted:"
_told: set[str] = set()


def _tell(kind: str) -> None:
    if kind not in _told:
        _told.add(kind)
        print(f"{BUDGET_MARK} {kind}", file=sys.stderr, flush=True)


def _mark_creation_stops() -> None:
    """--create-timeout: creation states dropped unexplored (its own clock, not the budget's)."""
    from mythril.laser.ethereum.svm import LaserEVM

    creation = LaserEVM._check_create_termination

    def check_creation(self) -> bool:
        hit = creation(self)
        if hit and self.open_states:       # without open states it is the execution budget's check
            _tell("creation")
        return hit

    LaserEVM._check_create_termination = check_creation


def _mark_budget_spent() -> None:
    """--execution-timeout: Mythril's clock (time_handler) starts with the analysis, creation
    included. Once it has run out, exploration stops and every solver query is refused at once
    (mythril.support.model.get_model), so states are pruned and issues dropped without a word;
    a run that ends past it is partial."""
    from mythril.laser.ethereum.time_handler import time_handler

    budget_ms = getattr(time_handler, "_execution_time", None)
    if getattr(time_handler, "_start_time", None) is not None and budget_ms and time_handler.time_remaining() <= 0:
        _tell("execution")


def main() -> None:
    solc = os.environ.get("SOLC")
    version = os.environ.get("SOLSENTRY_SOLC_VERSION")
    if not solc or not version:
        sys.exit("mythril_launcher: SOLC and SOLSENTRY_SOLC_VERSION must be set")

    import solcx

    # Imported by mythril.ethereum.util at import time; must not touch the network.
    solcx.get_installable_solc_versions = lambda: []
    solcx.get_installed_solc_versions = lambda: []

    from mythril.ethereum import util

    util.extract_binary = lambda _file: (solc, version)
    util.solc_exists = lambda _version: solc

    _mark_creation_stops()
    from mythril.interfaces.cli import main as myth_main

    sys.argv = ["myth", *sys.argv[1:]]
    try:
        myth_main()                        # exits 1 when it found issues
    finally:
        _mark_budget_spent()


if __name__ == "__main__":
    main()
