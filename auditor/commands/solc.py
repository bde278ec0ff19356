"""`solsentry solc ...`: inspect, install and choose Solidity compilers."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def solc() -> None:
    """Solidity compilers: native solc when present, otherwise solc-js from npm."""


@solc.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list versions that can be installed.")
def list_cmd(show_all: bool) -> None:
    """List installed compilers (and, with --all, installable versions)."""
    from rich.console import Console
    from rich.table import Table

    from auditor.solc.provider import SolcProvider

    provider = SolcProvider()
    table = Table("version", "kind", "path")
    installed = provider.installed()
    for b in installed:
        table.add_row(str(b.version), b.kind, str(b.path))
    if show_all:
        have = {b.version for b in installed}
        for v in provider.installable():
            if v not in have:
                table.add_row(str(v), "installable", "")
    console = Console()
    if table.row_count:
        console.print(table)
    else:
        console.print("No compiler installed yet; `solsentry solc install VERSION` installs one.")


@solc.command("install")
@click.argument("versions", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when all are installed already.")
def install_cmd(versions: tuple[str, ...], quiet: bool) -> None:
    """Install solc VERSION(s) (solc-js from the npm registry, into the user cache)."""
    from auditor.solc.provider import SolcProvider

    provider = SolcProvider()
    for text in versions:
        before = {(b.version, b.kind) for b in provider.installed()}
        binary = provider.ensure(text)
        if (binary.version, binary.kind) not in before:
            click.echo(f"installed {binary}")
        elif not quiet:
            click.echo(f"present   {binary}")


@solc.command("which")
@click.argument("spec")
@click.option("--remap", "remappings", multiple=True, metavar="PREFIX=TARGET",
              help="Import remapping used to follow imports (repeatable).")
def which_cmd(spec: str, remappings: tuple[str, ...]) -> None:
    """Print the compiler for SPEC: a pragma range (e.g. '^0.4.24') or a .sol file.

    For a file, the pragmas of everything it imports count too. The path goes to
    stdout (for `$(solsentry solc which ...)`), the version to stderr.
    """
    from auditor.solc.provider import SolcProvider
    from auditor.solc.sources import Remapping

    provider = SolcProvider()
    path = Path(spec)
    if spec.endswith(".sol") or path.is_file():
        if not path.is_file():
            raise click.BadParameter(f"no such file: {spec}", param_hint="SPEC")
        binary = provider.for_files([path], [Remapping.parse(r) for r in remappings], [path.parent])
    else:
        binary = provider.for_pragma(spec)
    click.echo(f"solc {binary.version} ({binary.kind})", err=True)
    click.echo(str(binary.path))
