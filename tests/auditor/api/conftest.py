"""A real `solsentry serve` for the tests of the HTTP service: `make_server(data_dir, env=None)` gives one, not started.

The server itself lives in tests/lib/testsupport/servers.py (shared with tests/security): it binds a free
port itself and reports it, so no other process can take the port in between.
"""

from __future__ import annotations

import pytest
from testsupport.servers import servers


@pytest.fixture
def make_server():
    yield from servers()


@pytest.fixture(scope="module")
def make_module_server():
    """make_server for a module-scoped fixture (one audit that a module's tests share)."""
    yield from servers()
