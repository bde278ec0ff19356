"""The EIP-712 signer, checked by an independent encoding and by the committed test vectors."""

import importlib.util
import json
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from oracle.chain.signer import TYPEHASH, AuditResult, Domain, ResultSigner, digest, recover
from oracle.errors import SignerError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _independent_digest(domain: Domain, r: AuditResult) -> bytes:
    domain_typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    separator = keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                              [domain_typehash, keccak(text="SolSentry AuditOracle"), keccak(text="1"),
                               domain.chain_id, domain.verifying_contract]))
    struct = keccak(encode(["bytes32", "bytes32", "bytes32", "bytes32", "uint8", "uint8", "uint8"],
                           [TYPEHASH, r.request_id, r.output_hash, r.model_hash, r.status, r.high, r.medium]))
    return keccak(b"\x19\x01" + separator + struct)


def test_digest_matches_an_independent_encoding():
    domain = Domain(31337, "0x2005B9aCa3e5c6dC4B9cC4b71B4800426fD7D2CC")
    r = AuditResult(keccak(text="a"), keccak(text="b"), keccak(text="c"), 3, 4, 5)
    assert digest(domain, r) == _independent_digest(domain, r)
    assert digest(Domain(1, domain.verifying_contract), r) != digest(domain, r)   # chain bound
    assert digest(Domain(31337, "0x" + "11" * 20), r) != digest(domain, r)       # contract bound


def test_signature_recovers_signer_and_is_low_s():
    signer = ResultSigner(keccak(text="k"))
    domain = Domain(31337, "0x" + "22" * 20)
    r = AuditResult(keccak(text="x"), keccak(text="y"), bytes(32))
    sig = signer.sign(domain, r)
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert int.from_bytes(sig[32:64], "big") <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    assert recover(domain, r, sig) == signer.address


def test_vectors_file_is_current():
    spec = importlib.util.spec_from_file_location("vectors", FIXTURES / "eip712_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((FIXTURES / "eip712-vectors.json").read_text())
    assert committed == module.build(), "regenerate with: .venv/bin/python tests/fixtures/eip712_vectors.py"
    for v in committed["vectors"]:
        r = AuditResult.from_json(v["result"])
        assert v["digest"] == "0x" + _independent_digest(Domain(**{
            "chain_id": committed["domain"]["chainId"],
            "verifying_contract": committed["domain"]["verifyingContract"]}), r).hex()


def test_bad_inputs_and_no_key_leak():
    key = keccak(text="secret")
    signer = ResultSigner(key)
    assert key.hex() not in repr(signer) and key.hex() not in str(vars(signer))
    with pytest.raises(SignerError) as err:
        ResultSigner(b"\x00" * 5)
    assert "invalid private key" in str(err.value)
    with pytest.raises(SignerError, match="request_id must be 32 bytes"):
        AuditResult(b"short", bytes(32), bytes(32))
    with pytest.raises(SignerError, match="uint8"):
        AuditResult(bytes(32), bytes(32), bytes(32), high=256)
