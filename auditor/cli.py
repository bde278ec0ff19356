"""The `solsentry` command. Subcommands load on use, so `--help` and `--version` stay instant
(no torch, transformers or slither import at startup)."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import click

from auditor import __version__

# name -> "module:attribute"; other packages add groups through the
# `solsentry.commands` entry-point group, so auditor never imports them.
BUILTIN_COMMANDS = {
    "solc": "auditor.commands.solc:solc",
    "compile": "auditor.commands.compile:compile_cmd",
    "audit": "auditor.commands.audit:audit_cmd",
    "eval": "auditor.commands.eval:eval_group",
    "serve": "auditor.commands.serve:serve_cmd",
    "api-key": "auditor.commands.serve:api_key",
}


class LazyGroup(click.Group):
    def _targets(self) -> dict[str, str]:
        targets = dict(BUILTIN_COMMANDS)
        for ep in entry_points(group="solsentry.commands"):
            targets.setdefault(ep.name, ep.value)
        return targets

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._targets()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        target = self._targets().get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="solsentry")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """SolSentry: audit Solidity contracts with Slither, Mythril and a fine-tuned review model."""
    import logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    from auditor.errors import AuditorError

    try:
        cli.main(prog_name="solsentry", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except AuditorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
