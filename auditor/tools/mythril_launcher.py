"""Runs Mythril's CLI with the compiler SolSentry chose (stdlib only: runs in Mythril's own venv).

Usage: SOLC=/path/to/solc SOLSENTRY_SOLC_VERSION=0.4.26 python mythril_launcher.py analyze ...

Why: offline, Mythril cannot list solc versions, so `extract_binary` returns no version,
Mythril assumes >= 0.8 and silently skips its integer-overflow module (SWC-101). It also
asks the network for the version list when `mythril.ethereum.util` is imported. Both are
answered here from the environment instead.
"""

import os
import sys

# Run as a script, this file's directory comes first on sys.path, and it holds SolSentry's own
# mythril.py adapter, which would shadow the real `mythril` package.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)


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

    from mythril.interfaces.cli import main as myth_main

    sys.argv = ["myth", *sys.argv[1:]]
    myth_main()


if __name__ == "__main__":
    main()
