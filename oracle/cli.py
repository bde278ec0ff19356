"""`solsentry chain ...` (and later `solsentry oracle ...`): registered through the
`solsentry.commands` entry-point group, so auditor never imports oracle."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def chain() -> None:
    """A local Hardhat chain with the oracle contracts (for development and the demo)."""


@chain.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=8545, show_default=True)
def up_cmd(port: int) -> None:
    """Start a Hardhat node in the background and wait until it answers."""
    from oracle.chain import node
    from oracle.config import get_oracle_settings
    from oracle.errors import OracleError

    try:
        info, started = node.start(get_oracle_settings(), port=port)
    except OracleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'started' if started else 'already running'}: {info.url} (pid {info.pid}, "
               f"chain id {info.chain_id}, log {info.log})")


@chain.command("down")
def down_cmd() -> None:
    """Stop the node started by `solsentry chain up`."""
    from oracle.chain import node
    from oracle.config import get_oracle_settings

    info = node.stop(get_oracle_settings())
    click.echo(f"stopped pid {info.pid} ({info.url})" if info else "no node was running")


@chain.command("deploy")
@click.option("--rpc", "rpc_url", default=None, help="RPC URL [default: the running node, else SOLSENTRY_RPC_URL].")
@click.option("--signer", "signers", multiple=True, help="Signer address (repeatable) [default: node account 1].")
@click.option("--threshold", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--fee", type=click.IntRange(min=0), default=0, show_default=True, help="Request fee in wei.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Deployment file [default: ~/.cache/solsentry/chain/deployment.json].")
def deploy_cmd(rpc_url: str | None, signers: tuple[str, ...], threshold: int, fee: int, out: Path | None) -> None:
    """Deploy AuditOracle and the example AuditedRegistry; write their addresses to a file."""
    from oracle.chain import node
    from oracle.chain.deploy import deploy
    from oracle.config import get_oracle_settings
    from oracle.errors import OracleError

    settings = get_oracle_settings()
    running = node.status(settings)
    url = rpc_url or (running.url if running else settings.rpc_url)
    try:
        d = deploy(url, list(signers) or None, threshold, fee)
    except OracleError as exc:
        raise click.ClickException(str(exc)) from None
    path = out or settings.deployment_file
    d.save(path)
    click.echo(f"AuditOracle     {d.audit_oracle}\nAuditedRegistry {d.audited_registry}\n"
               f"signers {', '.join(d.signers)} (threshold {d.threshold}), fee {d.fee} wei\nwritten to {path}")
