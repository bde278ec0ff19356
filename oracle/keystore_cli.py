"""`solsentry oracle keystore create|address`: the node's encrypted key, made and read without Python.

The password comes from a file (`--password-file`, or SOLSENTRY_KEYSTORE_PASSWORD_FILE), from
SOLSENTRY_KEYSTORE_PASSWORD, or from a prompt on a terminal (asked twice when creating); never from a
command-line argument, which any local user can read in the process list.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.group("keystore")
def keystore() -> None:
    """The node's key in an encrypted JSON keystore (web3 secret storage)."""


def _settings(keystore_file: Path | None, password_file: Path | None):
    from oracle.config import OracleSettings

    overrides = {"keystore_file": keystore_file, "keystore_password_file": password_file}
    return OracleSettings(**{k: v for k, v in overrides.items() if v is not None})


def _password(settings, confirm: bool) -> str:
    from oracle.errors import SignerError
    from oracle.keystore import PASSWORD_FILE_ENV, read_password

    if settings.keystore_password_file is not None or settings.keystore_password is not None:
        return read_password(settings)
    if not sys.stdin.isatty():
        # A prompt nobody can answer would hang a script: say what to give instead.
        raise SignerError(f"no keystore password: give --password-file FILE (or set {PASSWORD_FILE_ENV}), "
                          "or run in a terminal to be asked")
    return click.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm, err=True)


@keystore.command("create")
@click.option("--keystore", "keystore_file", type=_FILE, default=None,
              help="Where to write it [default: $SOLSENTRY_HOME/oracle/keystore.json, or SOLSENTRY_KEYSTORE_FILE].")
@click.option("--password-file", type=_FILE, default=None,
              help="A file whose first line is the password [default: SOLSENTRY_KEYSTORE_PASSWORD_FILE; "
                   "else a prompt].")
@click.option("--import-key-file", type=_FILE, default=None,
              help="Encrypt the hex private key in this file instead of a new random one.")
@click.option("--force", is_flag=True, help="Replace an existing keystore (its key is lost unless kept elsewhere).")
def create_cmd(keystore_file, password_file, import_key_file, force) -> None:
    """Create the node's keystore; prints the node's address (register it as a signer)."""
    from oracle.errors import OracleError
    from oracle.keystore import create_keystore, read_key_file

    settings = _settings(keystore_file, password_file)
    path = Path(settings.keystore_file)
    try:
        if path.exists() and not force:
            raise click.ClickException(f"keystore file {path} already exists; give --force to replace it")
        key = read_key_file(import_key_file) if import_key_file is not None else None
        address = create_keystore(path, _password(settings, confirm=True), key, overwrite=force)
    except OracleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"keystore written to {path}", err=True)
    click.echo(address)


@keystore.command("address")
@click.option("--keystore", "keystore_file", type=_FILE, default=None,
              help="The keystore [default: $SOLSENTRY_HOME/oracle/keystore.json, or SOLSENTRY_KEYSTORE_FILE].")
@click.option("--password-file", type=_FILE, default=None,
              help="Only for a keystore without an address field, which must be decrypted.")
def address_cmd(keystore_file, password_file) -> None:
    """Print the checksummed address of a keystore (no password when the file records it)."""
    from oracle.errors import OracleError
    from oracle.keystore import decrypt_keystore, keystore_address

    settings = _settings(keystore_file, password_file)
    try:
        address = keystore_address(settings.keystore_file)
        if address is None:
            address = decrypt_keystore(settings.keystore_file, _password(settings, confirm=False)).address
    except OracleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(address)
