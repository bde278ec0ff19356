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
    "init": "auditor.commands.init:init_cmd",
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


def known_settings(plugins: bool = True) -> set[str]:
    """Every SOLSENTRY_* variable something reads: auditor's settings classes and direct reads, and
    (with `plugins`) what each package behind a `solsentry.commands` entry point lists in its
    module's `env_names()` (so auditor names the oracle's variables without importing oracle by name)."""
    import os

    from auditor.api.config import ApiSettings
    from auditor.config import DIRECT_ENV, Settings, env_names

    names = env_names(Settings, ApiSettings) | DIRECT_ENV
    names.add(os.environ.get("SOLSENTRY_LLM_API_KEY_ENV", "SOLSENTRY_LLM_API_KEY").upper())
    if not plugins:
        return names
    for module in sorted({ep.value.partition(":")[0] for ep in entry_points(group="solsentry.commands")}):
        try:
            provider = getattr(importlib.import_module(module), "env_names", None)
        except ImportError:   # a package that is not installed cannot be configured either
            continue
        if callable(provider):
            names |= {n.upper() for n in provider()}
    return names


def warn_unknown_settings(argv: list[str]) -> None:
    """A mistyped variable is otherwise silently ignored: warn once, naming the closest known one.
    Not for --help, --version or a bare `solsentry` (which prints the help)."""
    import difflib
    import os

    if not argv or {"-h", "--help", "-V", "--version"} & set(argv):
        return
    given = sorted(n for n in os.environ if n.upper().startswith("SOLSENTRY_"))
    if not given:
        return
    known = known_settings(plugins=False)
    if all(n.upper() in known for n in given):
        return                  # the common case: no other package's module needs importing
    known = known_settings()
    for name in given:
        if name.upper() in known:
            continue
        # Compared without the common prefix, which would make every name look alike.
        tails = {k.removeprefix("SOLSENTRY_"): k for k in known}
        close = difflib.get_close_matches(name.upper().removeprefix("SOLSENTRY_"), list(tails), n=1, cutoff=0.6)
        hint = f" (did you mean {tails[close[0]]}?)" if close else ""
        click.echo(f"warning: unknown setting {name}{hint}", err=True)


def main() -> None:
    from auditor.errors import AuditorError

    warn_unknown_settings(sys.argv[1:])
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
