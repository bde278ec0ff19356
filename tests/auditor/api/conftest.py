"""The HTTP service for its tests: in process, `make_app(data_dir, **settings)` (the app behind a TestClient,
with dependency overrides; tests/lib/testsupport/inprocess.py) for the route tests; a real `solsentry serve`,
`make_server(data_dir, env=None)` (not started), for restart, SIGKILL, the browser and the audit children.

The server itself lives in tests/lib/testsupport/servers.py (shared with tests/security): it binds a free
port itself and reports it, so no other process can take the port in between.
"""

from __future__ import annotations

import pytest
from testsupport.inprocess import apps
from testsupport.servers import servers


@pytest.fixture
def make_server():
    yield from servers()


@pytest.fixture(scope="module")
def make_module_server():
    """make_server for a module-scoped fixture (one audit that a module's tests share)."""
    yield from servers()


@pytest.fixture
def make_app():
    """The app in this process over a data dir, settings overridden: `make_app(tmp_path / "api", max_files=3)`."""
    yield from apps()
