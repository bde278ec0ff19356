"""`solsentry compile PATH...`: compile Solidity files, each with the compiler its pragmas allow."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _solidity_files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix != ".sol":
            raise click.BadParameter(f"{path} is not a Solidity (.sol) file", param_hint="PATH")
        return [path]
    skip = {"node_modules", ".git", "cache", "artifacts", "out"}
    return sorted(p for p in path.rglob("*.sol") if not skip & set(p.relative_to(path).parts))


@click.command("compile")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--remap", "remappings", multiple=True, metavar="PREFIX=TARGET",
              help="Import remapping (repeatable).")
def compile_cmd(paths: tuple[Path, ...], remappings: tuple[str, ...]) -> None:
    """Compile every .sol file under PATHS; exit 2 if any fails."""
    from rich.console import Console
    from rich.table import Table

    from auditor.errors import AuditorError
    from auditor.solc.compiler import compile_files
    from auditor.solc.provider import SolcProvider
    from auditor.solc.sources import Remapping

    remaps = [Remapping.parse(r) for r in remappings]
    provider = SolcProvider()
    console = Console()
    table = Table("file", "solc", "contracts", "result")
    failures = 0
    for base in paths:
        files = _solidity_files(base)
        if not files:
            raise click.BadParameter(f"no .sol files under {base}", param_hint="PATH")
        root = base if base.is_dir() else base.parent
        for f in files:
            shown = str(f)
            try:
                result = compile_files([f], root, remaps, provider=provider)
            except AuditorError as exc:
                failures += 1
                table.add_row(shown, "-", "-", f"[red]{exc}[/red]")
                continue
            names = sorted({name for _, name in result.contracts})
            if result.errors:
                failures += 1
                table.add_row(shown, str(result.binary.version), "-", "[red]" + result.errors[0] + "[/red]")
            else:
                table.add_row(shown, str(result.binary.version), ", ".join(names), "[green]ok[/green]")
    console.print(table)
    if failures:
        console.print(f"[red]{failures} file(s) failed to compile[/red]")
        sys.exit(2)
