"""The node key in an encrypted keystore: round trip, password sources, clear errors that never
carry the key or the password (neither in messages nor in logs)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import stat

import pytest
from eth_account import Account
from eth_utils import keccak

from oracle.chain.signer import AuditResult, Domain, recover
from oracle.config import OracleSettings
from oracle.errors import SignerError
from oracle.keystore import NodeAccount, create_keystore, decrypt_keystore, load_keystore, read_password

KEY = keccak(text="solsentry test: keystore key")
PASSWORD = "Tr0ub4dor&3-keystore-test"
FAST = {"kdf": "pbkdf2", "iterations": 2}  # the scrypt default is tested once; the rest stay fast


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _assert_no_secrets(*texts: str) -> None:
    for text in texts:
        assert KEY.hex() not in text.lower() and PASSWORD not in text


def _settings(tmp_path, **kw) -> OracleSettings:
    return OracleSettings(chain_dir=tmp_path / "chain", **kw)


def test_round_trip_with_default_scrypt_file_mode_0600(tmp_path, logs):
    path = tmp_path / "keys" / "node.json"
    address = create_keystore(path, PASSWORD, KEY)
    assert address == Account.from_key(KEY).address
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["crypto"]["kdf"] == "scrypt" and data["address"].lower() == address[2:].lower()
    _assert_no_secrets(path.read_text())

    account = decrypt_keystore(path, PASSWORD)
    assert account.address == address and account.key == KEY
    _assert_no_secrets(logs.text, repr(account), str(account), f"{account}", f"{account!r}")
    assert list(tmp_path.joinpath("keys").iterdir()) == [path]  # no temporary file left behind


def test_random_key_and_no_overwrite(tmp_path):
    path = tmp_path / "node.json"
    address = create_keystore(path, PASSWORD, **FAST)
    assert decrypt_keystore(path, PASSWORD).address == address
    with pytest.raises(SignerError, match="already exists"):
        create_keystore(path, PASSWORD, KEY, **FAST)
    assert decrypt_keystore(path, PASSWORD).address == address
    assert create_keystore(path, PASSWORD, KEY, overwrite=True, **FAST) == Account.from_key(KEY).address
    with pytest.raises(SignerError, match="empty password"):
        create_keystore(tmp_path / "other.json", "", KEY, **FAST)


def test_wrong_password_is_a_clear_error_without_secrets(tmp_path, logs):
    path = tmp_path / "node.json"
    create_keystore(path, PASSWORD, KEY, **FAST)
    wrong = PASSWORD + "x"
    with pytest.raises(SignerError) as info:
        decrypt_keystore(path, wrong)
    message = str(info.value)
    assert message == f"wrong password for keystore {path}"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    _assert_no_secrets(message, repr(info.value), logs.text)
    assert wrong not in message and wrong not in logs.text


def test_missing_unreadable_and_malformed_files(tmp_path, logs):
    with pytest.raises(SignerError, match=r"keystore file not found: .*missing\.json"):
        decrypt_keystore(tmp_path / "missing.json", PASSWORD)
    with pytest.raises(SignerError, match="is a directory"):
        decrypt_keystore(tmp_path, PASSWORD)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SignerError, match="is not valid JSON"):
        decrypt_keystore(bad, PASSWORD)
    bad.write_text(json.dumps({"address": "00" * 20}))
    with pytest.raises(SignerError, match="not a web3 secret-storage keystore"):
        decrypt_keystore(bad, PASSWORD)
    good = tmp_path / "good.json"
    create_keystore(good, PASSWORD, KEY, **FAST)
    data = json.loads(good.read_text())
    del data["crypto"]["cipherparams"]
    bad.write_text(json.dumps(data))
    with pytest.raises(SignerError, match="malformed or uses an unsupported format"):
        decrypt_keystore(bad, PASSWORD)
    data = json.loads(good.read_text())
    data["address"] = "11" * 20
    bad.write_text(json.dumps(data))
    with pytest.raises(SignerError, match="does not match its address"):
        decrypt_keystore(bad, PASSWORD)
    if os.geteuid() != 0:  # root reads anything
        good.chmod(0)
        with pytest.raises(SignerError, match="cannot read keystore file"):
            decrypt_keystore(good, PASSWORD)
    _assert_no_secrets(logs.text)


def test_password_from_file(tmp_path, logs):
    keystore = tmp_path / "node.json"
    create_keystore(keystore, PASSWORD, KEY, **FAST)
    pw = tmp_path / "password"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o600)
    settings = _settings(tmp_path, keystore_file=keystore, keystore_password_file=pw)
    assert read_password(settings) == PASSWORD
    account = load_keystore(settings)
    assert account.address == Account.from_key(KEY).address
    assert "readable by other users" not in logs.text

    pw.write_text(PASSWORD + "\r\nsecond line ignored\n")
    pw.chmod(0o644)
    assert load_keystore(settings).address == account.address
    assert "readable by other users" in logs.text  # a warning, naming the file, not the password

    pw.write_text("\n")
    with pytest.raises(SignerError, match="is empty"):
        load_keystore(settings)
    missing = _settings(tmp_path, keystore_file=keystore, keystore_password_file=tmp_path / "nope")
    with pytest.raises(SignerError, match="keystore password file not found"):
        load_keystore(missing)
    _assert_no_secrets(logs.text)


def test_password_from_environment(tmp_path, monkeypatch, logs):
    keystore = tmp_path / "node.json"
    create_keystore(keystore, PASSWORD, KEY, **FAST)
    monkeypatch.delenv("SOLSENTRY_KEYSTORE_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("SOLSENTRY_KEYSTORE_FILE", str(keystore))
    monkeypatch.setenv("SOLSENTRY_KEYSTORE_PASSWORD", PASSWORD)
    settings = OracleSettings()
    assert load_keystore(settings).address == Account.from_key(KEY).address
    _assert_no_secrets(repr(settings), str(settings.model_dump()))

    monkeypatch.setenv("SOLSENTRY_KEYSTORE_PASSWORD", "not it")
    with pytest.raises(SignerError, match="wrong password") as info:
        load_keystore(OracleSettings())
    assert "not it" not in str(info.value)

    monkeypatch.delenv("SOLSENTRY_KEYSTORE_PASSWORD")
    with pytest.raises(SignerError, match=r"SOLSENTRY_KEYSTORE_PASSWORD_FILE .* or SOLSENTRY_KEYSTORE_PASSWORD"):
        load_keystore(OracleSettings())
    _assert_no_secrets(logs.text)


def test_account_object_does_not_leak_and_signs(tmp_path, logs):
    path = tmp_path / "node.json"
    create_keystore(path, PASSWORD, KEY, **FAST)
    account = decrypt_keystore(path, PASSWORD)
    assert isinstance(account, NodeAccount)
    assert repr(account) == str(account) == f"NodeAccount({account.address})"
    with pytest.raises(TypeError):
        bytes(account)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(account)
    with pytest.raises(AttributeError):
        account.extra = 1  # slots: no accidental attributes (e.g. a cached hex key)

    # It signs transactions like a LocalAccount, and gives the EIP-712 result signer.
    tx = {"to": account.address, "value": 1, "gas": 21000, "nonce": 0, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1,
          "chainId": 31337}
    signed = account.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw_transaction) == account.address
    domain = Domain(31337, "0x" + "22" * 20)
    result = AuditResult(keccak(b"r"), keccak(b"o"), keccak(b"m"))
    assert recover(domain, result, account.result_signer().sign(domain, result)) == account.address
    _assert_no_secrets(logs.text, repr(account.result_signer()))

    with pytest.raises(SignerError, match="invalid private key") as info:
        NodeAccount.from_key(b"\x00" * 32)
    assert info.value.__cause__ is None
