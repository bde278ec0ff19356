"""The node's private key, kept in an encrypted JSON keystore (web3 secret storage, v3).

The password comes from a file (`SOLSENTRY_KEYSTORE_PASSWORD_FILE`, preferred: it stays out of
the process environment) or from `SOLSENTRY_KEYSTORE_PASSWORD`; never from a command-line
argument, which any local user can read in the process list. Errors are `SignerError`s that
name the file and the problem, never the key or the password; the account object returned
does not show its key in `repr`/`str` and cannot be pickled.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, to_checksum_address

from auditor.perms import private_dir
from oracle.chain.signer import ResultSigner
from oracle.config import OracleSettings
from oracle.errors import SignerError

log = logging.getLogger(__name__)

PASSWORD_ENV = "SOLSENTRY_KEYSTORE_PASSWORD"
PASSWORD_FILE_ENV = "SOLSENTRY_KEYSTORE_PASSWORD_FILE"


class NodeAccount:
    """A decrypted key: signs transactions and messages; shows only its address.

    Has the `address`, `key`, `sign_transaction`, `sign_message` and `sign_typed_data` of an
    eth_account `LocalAccount` (so `TxManager` and `ResultSigner` accept it), without the
    `bytes(account)` of LocalAccount that returns the key.
    """

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @classmethod
    def from_key(cls, private_key: bytes | str) -> NodeAccount:
        try:
            return cls(Account.from_key(private_key))
        except Exception:  # eth_account raises several types; their text may quote the input
            raise SignerError("invalid private key") from None

    @property
    def address(self) -> str:
        return self._account.address

    @property
    def key(self) -> bytes:
        """The raw private key (32 bytes). Pass it on, never print or log it."""
        return bytes(self._account.key)

    def sign_transaction(self, transaction: dict):
        return self._account.sign_transaction(transaction)

    def sign_message(self, signable):
        return self._account.sign_message(signable)

    def sign_typed_data(self, *args: Any, **kwargs: Any):
        return self._account.sign_typed_data(*args, **kwargs)

    def result_signer(self) -> ResultSigner:
        """The EIP-712 result signer for this key."""
        return ResultSigner(self.key)

    def __repr__(self) -> str:
        return f"NodeAccount({self.address})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("NodeAccount holds a private key and cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeAccount) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)


# ---- passwords ----------------------------------------------------------------------------
def read_password(settings: OracleSettings) -> str:
    """The keystore password: from `keystore_password_file` if set, else `keystore_password`
    (env SOLSENTRY_KEYSTORE_PASSWORD)."""
    path = settings.keystore_password_file
    if path is not None:
        return read_password_file(Path(path))
    if settings.keystore_password is not None:
        password = settings.keystore_password.get_secret_value()
        if not password:
            raise SignerError(f"{PASSWORD_ENV} is set but empty")
        return password
    raise SignerError(f"no keystore password: set {PASSWORD_FILE_ENV} to a file holding it (preferred) "
                      f"or {PASSWORD_ENV}")


def read_password_file(path: Path) -> str:
    """The first line of `path` (trailing CR/LF dropped; other whitespace is part of the password)."""
    text = _read_secret_file(path, "keystore password file", "is not UTF-8 text", "chmod 600 it")
    password = text.split("\n", 1)[0].removesuffix("\r")
    if not password:
        raise SignerError(f"keystore password file {path} is empty")
    return password


def read_key_file(path: Path) -> bytes:
    """A private key kept as hex (optional 0x, surrounding whitespace ignored) in `path`. Errors
    never quote the file's content."""
    text = _read_secret_file(path, "key file", "does not hold a hex private key", "delete it once imported").strip()
    digits = text.removeprefix("0x").removeprefix("0X")
    if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise SignerError(f"key file {path} does not hold a hex private key (64 hex digits)")
    return bytes.fromhex(digits)


def _read_secret_file(path: Path, what: str, not_text: str, advice: str) -> str:
    """The UTF-8 text of a file holding a secret; errors name the file, never its content; a file
    others can read gets a warning with `advice`."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignerError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise SignerError(f"{what} {path} is a directory") from None
    except UnicodeDecodeError:
        raise SignerError(f"{what} {path} {not_text}") from None
    except OSError as exc:
        raise SignerError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s %s is readable by other users (mode %o); %s", what, path, stat.S_IMODE(mode), advice)
    return text


# ---- keystores ----------------------------------------------------------------------------
def keystore_address(path: Path) -> str | None:
    """The checksummed address a keystore file declares (no password needed), or None when it has
    no address field. The key is not checked against it here (`decrypt_keystore` does)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignerError(f"keystore file not found: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise SignerError(f"keystore file {path} is not a JSON keystore") from None
    stored = data.get("address") if isinstance(data, dict) else None
    if not isinstance(stored, str):
        return None
    stored = "0x" + stored.removeprefix("0x")
    if not is_hex_address(stored):
        raise SignerError(f"keystore file {path} has a malformed address field")
    return to_checksum_address(stored)


def load_keystore(settings: OracleSettings) -> NodeAccount:
    """Decrypt the keystore named by the settings with the configured password."""
    return decrypt_keystore(Path(settings.keystore_file), read_password(settings))


def decrypt_keystore(path: Path, password: str) -> NodeAccount:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignerError(f"keystore file not found: {path} (create one with `solsentry oracle keystore create`)") \
            from None
    except IsADirectoryError:
        raise SignerError(f"keystore path {path} is a directory, not a keystore file") from None
    except UnicodeDecodeError:
        raise SignerError(f"keystore file {path} is not a JSON keystore (not UTF-8 text)") from None
    except OSError as exc:
        raise SignerError(f"cannot read keystore file {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise SignerError(f"keystore file {path} is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("crypto") or data.get("Crypto"), dict):
        raise SignerError(f"keystore file {path} is not a web3 secret-storage keystore (no 'crypto' section)")
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "mac mismatch" in str(exc).lower():
            raise SignerError(f"wrong password for keystore {path}") from None
        raise SignerError(f"keystore file {path} is malformed or uses an unsupported format") from None
    except Exception:  # KeyError/TypeError/... from a damaged file; the message may quote its fields
        raise SignerError(f"keystore file {path} is malformed or uses an unsupported format") from None
    account = NodeAccount.from_key(key)
    stored = data.get("address")
    stored = ("0x" + stored.removeprefix("0x")) if isinstance(stored, str) else None
    if stored and is_hex_address(stored) and to_checksum_address(stored) != account.address:
        raise SignerError(f"keystore file {path} is inconsistent: its key does not match its address field")
    log.info("loaded node key %s from %s", account.address, path)
    return account


def create_keystore(path: Path, password: str, private_key: bytes | str | None = None, *,
                    kdf: str = "scrypt", iterations: int | None = None, overwrite: bool = False) -> str:
    """Encrypt `private_key` (a new random key when None) with `password` into `path` (mode 0600,
    written atomically) and return the address. `kdf`/`iterations` pass to `Account.encrypt`
    (defaults: scrypt, eth_account's work factor); an existing file is kept unless `overwrite`."""
    path = Path(path)
    if not password:
        raise SignerError("refusing to create a keystore with an empty password")
    if path.exists() and not overwrite:
        raise SignerError(f"keystore file {path} already exists; not overwriting it")
    account = NodeAccount(Account.create()) if private_key is None else NodeAccount.from_key(private_key)
    try:
        data = Account.encrypt(account.key, password, kdf=kdf, iterations=iterations)
    except Exception as exc:
        raise SignerError(f"cannot encrypt the key: {type(exc).__name__} (kdf {kdf!r})") from None
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SignerError(f"cannot write keystore file {path}: {exc.strerror or type(exc).__name__}") from None
    log.info("wrote keystore for %s to %s", account.address, path)
    return account.address
