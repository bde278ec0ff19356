"""`solsentry serve` (the HTTP service) and `solsentry api-key create|list|revoke`."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="0: a free port the system picks (logged, and written to --port-file).")
@click.option("--port-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the port the server listens on to FILE once it accepts connections.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Audits at once [default: SOLSENTRY_API_WORKERS].")
@click.option("--insecure-dev", is_flag=True, help="Serve without API keys (development only; never expose it).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=None,
              help="Run audits in local processes or on Ray [default: SOLSENTRY_API_EXECUTOR, local].")
@click.option("--ray-address", default=None, metavar="ADDR", help="With --executor ray: the cluster address.")
@click.option("--isolation", type=click.Choice(["warm", "fresh"]), default=None,
              help="warm: pre-started audit workers (each audit still isolated); fresh: a new process per "
                   "audit [default: SOLSENTRY_API_ISOLATION, warm].")
def serve_cmd(host: str, port: int, port_file: Path | None, workers: int | None, insecure_dev: bool,
              executor: str | None, ray_address: str | None, isolation: str | None) -> None:
    """Serve the audit API (FastAPI, OpenAPI docs at /docs). Refuses to start without an API key
    (create one with `solsentry api-key create`) unless --insecure-dev is given."""
    import uvicorn

    from auditor.api.app import create_app
    from auditor.api.config import ApiSettings
    from auditor.api.store import AuditStore
    from auditor.perms import restrict_umask

    restrict_umask()        # the queue, the keys' hashes, sources, reports, caches: 0700 folders, 0600 files
    settings = ApiSettings()
    if workers:
        settings.workers = workers
    if executor:
        settings.executor = executor
    if ray_address:
        settings.ray_address = ray_address
    if isolation:
        settings.isolation = isolation
    if settings.executor == "ray":
        from auditor.errors import AuditorError
        from auditor.runtime.executors import ray_init

        try:
            ray_init(settings.ray_address)
        except AuditorError as exc:
            raise click.ClickException(str(exc)) from None
    if not insecure_dev and AuditStore(settings.db_path).active_keys() == 0:
        raise click.ClickException("no API key is configured: create one with `solsentry api-key create`, "
                                   "or run with --insecure-dev on a machine only you can reach")
    if insecure_dev:
        click.echo("warning: --insecure-dev: every request is accepted without a key", err=True)
    # X-Forwarded-For is believed only from the configured proxies (none by default): the rate limits
    # per client address see the proxy's address otherwise.
    proxies = {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies} if settings.trusted_proxies \
        else {"proxy_headers": False}
    config = uvicorn.Config(create_app(settings, insecure_dev=insecure_dev), host=host, port=port, log_level="info",
                            server_header=False, **proxies)
    _server(config, port_file).run()


def _server(config, port_file: Path | None):
    """uvicorn's Server, writing the bound port to a file once it listens (with --port 0 the port is
    the system's choice, so no other program can take it between choosing and binding)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if port_file is not None and self.started and self.servers and self.servers[0].sockets:
                bound = self.servers[0].sockets[0].getsockname()[1]
                tmp = port_file.with_name(f".{port_file.name}.tmp")
                tmp.write_text(f"{bound}\n")
                os.replace(tmp, port_file)     # a reader sees the whole number or no file

    return Server(config)


@click.group("api-key")
def api_key() -> None:
    """API keys of `solsentry serve` (only their SHA-256 is stored)."""


@api_key.command("create")
@click.option("--name", default="default", show_default=True, help="A label for the key.")
def create_cmd(name: str) -> None:
    """Create a key and print it once (it cannot be shown again)."""
    from auditor.api.config import ApiSettings
    from auditor.api.security import new_key
    from auditor.api.store import AuditStore

    key = new_key()
    key_id = AuditStore(ApiSettings().db_path).add_key(name, key)
    click.echo(f"key id {key_id} ({name}); the key, shown only now:", err=True)
    click.echo(key)


@api_key.command("list")
def list_cmd() -> None:
    """Key ids, names, and whether they are revoked."""
    from auditor.api.config import ApiSettings
    from auditor.api.store import AuditStore

    for k in AuditStore(ApiSettings().db_path).api_keys():
        click.echo(f"{k['id']}  {k['name']}  {'revoked' if k['revoked_at'] else 'active'}")


@api_key.command("revoke")
@click.argument("key_id")
def revoke_cmd(key_id: str) -> None:
    """Revoke a key by its id."""
    from auditor.api.config import ApiSettings
    from auditor.api.store import AuditStore

    if not AuditStore(ApiSettings().db_path).revoke(key_id):
        raise click.ClickException(f"no active key with id {key_id}")
    click.echo(f"revoked {key_id}")
