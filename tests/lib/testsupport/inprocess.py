"""The HTTP service in this process: the FastAPI app behind `fastapi.testclient.TestClient`, no server,
no port, no audit workers; the parts a test changes go in through `app.dependency_overrides`.

`InProcessApi` answers `call` and `key` like `servers.Server`, so a route test reads the same either
way. Tests that need a real server (restart, SIGKILL, a browser, the audit children, uvicorn's proxy
headers) use `servers.Server`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from auditor.api.app import create_app
from auditor.api.config import ApiSettings
from auditor.api.deps import Limiters, get_limiters, get_settings
from auditor.api.security import new_key
from auditor.api.store import AuditStore


class InProcessApi:
    """The app over `data`, with `settings` (ApiSettings fields) replacing what the environment says."""

    def __init__(self, data: Path, **settings: object) -> None:
        self.data = data
        self.settings = ApiSettings(data_dir=data).model_copy(update=settings)
        self.limiters = Limiters.from_settings(self.settings)
        self.app = create_app(ApiSettings(data_dir=data), start_workers=False)
        self.app.dependency_overrides[get_settings] = lambda: self.settings
        self.app.dependency_overrides[get_limiters] = lambda: self.limiters
        self.client = TestClient(self.app, base_url="http://testserver")
        self.client.__enter__()                  # runs the app's lifespan (start-up recovery)

    def key(self, name: str = "test") -> str:
        key = new_key()
        AuditStore(self.settings.db_path).add_key(name, key)
        return key

    def call(self, method: str, path: str, body: bytes | None = None, key: str | None = None,
             ctype: str = "application/json", accept: str | None = None) -> tuple[int, bytes, dict]:
        """(status, body, headers), as `Server.call`."""
        headers = {"Content-Type": ctype} if body is not None else {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if accept:
            headers["Accept"] = accept
        r = self.client.request(method, path, content=body, headers=headers)
        return r.status_code, r.content, dict(r.headers)

    def close(self) -> None:
        self.client.__exit__(None, None, None)


def apps() -> Iterator:
    """Yield a `make(data_dir, **settings) -> InProcessApi` factory; then close every app it made."""
    made: list[InProcessApi] = []

    def make(data: Path, **settings: object) -> InProcessApi:
        made.append(InProcessApi(data, **settings))
        return made[-1]

    try:
        yield make
    finally:
        for api in made:
            api.close()
