"""`solsentry chain ...` (and later `solsentry oracle ...`): registered through the
`solsentry.commands` entry-point group, so auditor never imports oracle."""

from __future__ import annotations

from pathlib import Path

import click

from oracle.keystore_cli import keystore


def env_names() -> set[str]:
    """The SOLSENTRY_* variables the oracle reads; `solsentry` asks for them through the entry point
    (auditor/cli.py) to warn about unknown ones."""
    from auditor.config import env_names as names_of
    from oracle.config import OracleSettings

    return names_of(OracleSettings)     # the keystore's password variables are its fields too


@click.group()
def chain() -> None:
    """A local Hardhat chain with the oracle contracts (for development and the demo)."""


@chain.command("up")
@click.option("--port", type=click.IntRange(0, 65535), default=8545, show_default=True,
              help="0: a free port the node picks (printed in its URL).")
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
              help="Deployment file [default: $SOLSENTRY_HOME/chain/deployment.json].")
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


# ---- solsentry oracle ... ----------------------------------------------------------------
@click.group()
def oracle() -> None:
    """The oracle node: answer on-chain audit requests with signed, hashed reports."""


oracle.add_command(keystore)


def _settings(**overrides):
    from oracle.config import OracleSettings

    return OracleSettings(**{k: v for k, v in overrides.items() if v is not None})


@oracle.command("run")
@click.option("--deployment", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Deployment file [default: $SOLSENTRY_HOME/chain/deployment.json].")
@click.option("--keystore", "keystore_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Encrypted keystore of the node key; password from SOLSENTRY_KEYSTORE_PASSWORD or "
                   "SOLSENTRY_KEYSTORE_PASSWORD_FILE (never a command-line argument).")
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Job store (SQLite).")
@click.option("--rpc", "rpc_url", default=None, help="RPC URL [default: the deployment's].")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve /metrics and /healthz on this port (0: a free one, see --metrics-port-file).")
@click.option("--metrics-port-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the metrics port here once it listens.")
@click.option("-v", "--verbose", is_flag=True, help="Debug log output.")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only.")
def run_cmd(deployment, keystore_file, db_path, rpc_url, metrics_port, metrics_port_file, verbose, quiet) -> None:
    """Run the node until SIGTERM/SIGINT. Logs at INFO (what it listens to, each request from
    receipt to confirmation, each transaction) on stderr; -v for debug, -q for warnings only."""
    import logging

    from auditor.perms import restrict_umask
    from oracle.daemon import run
    from oracle.errors import OracleError

    if verbose and quiet:
        raise click.UsageError("-v and -q exclude each other")
    restrict_umask()            # the job store, outputs, unpacked inputs, caches: 0700 folders, 0600 files
    # force: the root command has already configured logging (WARNING) for every command; a daemon's
    # operator needs to see it work without asking.
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if not verbose:
        # Libraries' INFO lines (HTTP requests of web3 and urllib3) would drown the node's own.
        for noisy in ("web3", "urllib3", "asyncio"):
            logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    settings = _settings(deployment=deployment, keystore_file=keystore_file, db_path=db_path, rpc_url=rpc_url,
                         metrics_port=metrics_port, metrics_port_file=metrics_port_file)
    _private_state(settings)
    try:
        run(settings)
    except OracleError as exc:
        raise click.ClickException(str(exc)) from None


def _private_state(settings) -> None:
    """The node's folders 0700: the job store's (created), and the keystore's, the chain's and the
    work folder when they exist (auditor.perms leaves the home folder and /tmp-like ones alone)."""
    from auditor.perms import private_dir

    private_dir(Path(settings.db_path).parent)
    for folder in (Path(settings.keystore_file).parent, Path(settings.chain_dir), settings.work_dir):
        if folder is not None and Path(folder).is_dir():
            private_dir(Path(folder))


@oracle.command("request")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--deployment", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--uri", default=None, help="Publish the input at URI instead of inline (the hash still commits).")
@click.option("--from", "sender", default=None, help="Requester (an unlocked node account) [default: account 2].")
@click.option("--deadline", "deadline_s", type=click.IntRange(min=60), default=3600, show_default=True,
              help="Seconds until the requester may cancel.")
@click.option("--wait/--no-wait", default=False, help="Wait for the result and print it.")
@click.option("--timeout", type=click.IntRange(min=1), default=600, show_default=True)
def request_cmd(path, deployment, uri, sender, deadline_s, wait, timeout) -> None:
    """Submit an audit request for a .sol file or directory (as {"files": {...}} JSON input)."""
    from oracle.requests import submit_request, wait_for_result

    settings = _settings(deployment=deployment)
    request_id, client = submit_request(settings, path, uri=uri, sender=sender, deadline_s=deadline_s)
    click.echo(f"request {'0x' + request_id.hex()}")
    if wait:
        view = wait_for_result(client, request_id, timeout)
        click.echo(f"finalized: status {view.status}, high {view.high}, medium {view.medium}, "
                   f"output hash 0x{view.output_hash.hex()}")


@oracle.command("status")
@click.argument("request_id", required=False)
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
def status_cmd(request_id, db_path) -> None:
    """Job counts by state, or one job's record."""
    from oracle.store import JobStore

    settings = _settings(db_path=db_path)
    if not settings.db_path.exists():
        raise click.ClickException(f"no job store at {settings.db_path} (has `solsentry oracle run` run here?)")
    store = JobStore(settings.db_path)
    if request_id is None:
        for state, n in sorted(store.counts().items()):
            click.echo(f"{state:<10} {n}")
        return
    job = store.get(request_id.lower())
    if job is None:
        raise click.ClickException(f"no job for request {request_id}")
    for key, value in vars(job).items():
        if key in ("raw_tx", "inline_input"):
            value = f"<{len(value)} bytes>" if value else None
        click.echo(f"{key:<16} {value}")


@oracle.command("recover")
@click.option("--deployment", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--keystore", "keystore_file", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
def recover_cmd(deployment, keystore_file, db_path) -> None:
    """Resume after a crash without starting the node: requeue unfinished audits, re-broadcast signed
    transactions without a receipt, resynchronize the nonce."""
    from oracle.daemon import build_node
    from oracle.errors import OracleError

    try:
        node = build_node(_settings(deployment=deployment, keystore_file=keystore_file, db_path=db_path))
        done = node.recover()
        node.close()
    except OracleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restarted {done['restarted']} audit(s), re-broadcast {done['rebroadcast']} transaction(s)")


@oracle.command("output")
@click.argument("output_hash")
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None)
def output_cmd(output_hash, db_path, out) -> None:
    """Print (or save) the report bytes whose keccak256 is OUTPUT_HASH."""
    import sys

    from eth_utils import keccak

    from oracle.store import JobStore

    settings = _settings(db_path=db_path)
    data = JobStore(settings.db_path).output(output_hash) if settings.db_path.exists() else None
    if data is None:
        raise click.ClickException(f"no output with hash {output_hash} in {settings.db_path}")
    if "0x" + keccak(data).hex() != output_hash.lower():
        raise click.ClickException("stored bytes do not match their hash (corrupted store?)")
    if out:
        out.write_bytes(data)
        click.echo(f"{len(data)} bytes written to {out}", err=True)
    else:
        sys.stdout.buffer.write(data + b"\n")
