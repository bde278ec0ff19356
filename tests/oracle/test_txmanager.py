"""TxManager against a real Hardhat node: the wallet signs locally (a fresh LocalAccount funded
from the node's first account), the node's unlocked accounts only play requesters and outsiders."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from oracle.chain.contracts import AuditOracleClient, FulfillOutcome, RequestState
from oracle.chain.deploy import deploy
from oracle.chain.errors import FeeCapError, NonceConsumed, RpcUnavailable, SimulationError, TxRejected, TxSkipped
from oracle.chain.retry import RetryingRpc, is_transient
from oracle.chain.sent import SentTx, TxStatus
from oracle.chain.signer import AuditResult, ResultSigner
from oracle.chain.txmanager import TxManager
from oracle.config import OracleSettings
from oracle.tasks.deliver import fulfill_not_needed, simulate_fulfill

RESULT_KEY = keccak(text="solsentry test: txmanager result key")


@dataclass
class Env:
    url: str
    w3: Web3
    oracle: AuditOracleClient
    signer: ResultSigner

    def request(self) -> bytes:
        request_id, _ = self.oracle.request_audit(self.w3.eth.accounts[2], keccak(request_counter()),
                                                  uri="ipfs://bafy-test")
        return request_id

    def fulfill_fn(self, request_id: bytes, medium: int = 1):
        result = AuditResult(request_id, keccak(b"report" + request_id), keccak(text="model"), 0, 0, medium)
        return self.oracle.contract.functions.fulfill(result.as_tuple(), self.signer.sign(self.oracle.domain(), result))

    def wallet(self, value: int = 10**19) -> LocalAccount:
        account = Account.create()
        if value:
            self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(
                {"from": self.w3.eth.accounts[0], "to": account.address, "value": value}))
        return account

    def mine(self) -> None:
        self.w3.provider.make_request("evm_mine", [])


_counter = iter(range(10**9))


def request_counter() -> bytes:
    return f"input {next(_counter)}".encode()


@pytest.fixture(scope="module")
def env(hardhat_node) -> Env:
    signer = ResultSigner(RESULT_KEY)
    d = deploy(hardhat_node.url, signers=[signer.address], threshold=1, fee=0)
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    return Env(hardhat_node.url, w3, AuditOracleClient(w3, d.audit_oracle), signer)


def settings(**kw) -> OracleSettings:
    return OracleSettings(**{"rpc_backoff_s": 0.01, **kw})


@contextmanager
def automine_off(w3: Web3):
    assert w3.provider.make_request("evm_setAutomine", [False])["result"] is True
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])


class Recorder:
    """An on_signed callback that checks write-ahead: the node must not know the tx yet."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.calls: list[tuple[str, int, bytes]] = []
        self.known_at_signing: list[bool] = []
        self.lock = threading.Lock()

    def __call__(self, tx_hash: str, nonce: int, raw: bytes) -> None:
        try:
            self.w3.eth.get_transaction(tx_hash)
            known = True
        except TransactionNotFound:
            known = False
        with self.lock:
            self.calls.append((tx_hash, nonce, raw))
            self.known_at_signing.append(known)


def test_send_fulfill_is_mined_and_written_ahead(env, caplog):
    caplog.set_level(logging.DEBUG)
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    request_id = env.request()
    rec = Recorder(env.w3)
    sent = txm.send(env.fulfill_fn(request_id), on_signed=rec)

    assert rec.calls == [(sent.tx_hash, sent.nonce, sent.raw)] and rec.known_at_signing == [False]
    assert sent.nonce == 0 and sent.result == FulfillOutcome.FINALIZED
    receipt = txm.wait(sent)
    assert receipt["status"] == 1 and receipt["from"] == wallet.address
    assert txm.receipt(sent.tx_hash)["transactionHash"].hex() == sent.tx_hash[2:]
    assert txm.status(sent) is TxStatus.MINED
    view = env.oracle.get_request(request_id)
    assert view.state == RequestState.FINALIZED and view.medium == 1
    # EIP-1559 pricing within the defaults, gas with a margin over the real use.
    assert sent.max_priority_fee_per_gas == 10**9 and sent.max_fee_per_gas <= 500 * 10**9
    assert receipt["gasUsed"] < sent.gas
    # The stored bytes alone rebuild the transaction.
    again = SentTx.from_raw(sent.raw)
    assert (again.tx_hash, again.nonce, again.gas, again.max_fee_per_gas) == (
        sent.tx_hash, sent.nonce, sent.gas, sent.max_fee_per_gas)
    assert txm.balance() < 10**19
    assert wallet.key.hex() not in caplog.text and sent.raw.hex() not in caplog.text
    assert wallet.key.hex() not in repr(txm) + repr(sent)


def test_already_finalized_is_simulated_not_sent(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    request_id = env.request()
    fn = env.fulfill_fn(request_id)
    assert simulate_fulfill(txm, fn) == FulfillOutcome.FINALIZED
    txm.wait(txm.send(fn, on_signed=lambda *a: None))

    assert simulate_fulfill(txm, fn) == FulfillOutcome.ALREADY_FINALIZED
    rec = Recorder(env.w3)
    with pytest.raises(TxSkipped) as info:
        txm.send(fn, on_signed=rec, skip_if=fulfill_not_needed)
    assert info.value.result == FulfillOutcome.ALREADY_FINALIZED
    assert rec.calls == []
    assert env.w3.eth.get_transaction_count(wallet.address) == 1


def test_revert_raises_simulation_error_without_retry_or_send(env, hardhat_node):
    calls: list[str] = []

    class Counting(Web3.HTTPProvider):
        def make_request(self, method, params):
            calls.append(method)
            return super().make_request(method, params)

    w3 = Web3(Counting(hardhat_node.url))
    wallet = env.wallet()
    txm = TxManager(w3, wallet, settings())
    oracle = AuditOracleClient(w3, env.oracle.address)
    unknown = AuditResult(keccak(b"no such request"), keccak(b"r"), keccak(b"m"))
    fn = oracle.contract.functions.fulfill(unknown.as_tuple(), env.signer.sign(oracle.domain(), unknown))
    rec = Recorder(env.w3)
    with pytest.raises(SimulationError, match=r"AuditOracle__UnknownRequest\(requestId=0x") as info:
        txm.send(fn, on_signed=rec)
    assert info.value.error_name == "AuditOracle__UnknownRequest"
    assert info.value.error_args == (keccak(b"no such request"),)
    assert calls.count("eth_call") == 1 and "eth_sendRawTransaction" not in calls
    assert rec.calls == []


def test_eight_threads_get_distinct_consecutive_nonces(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    fns = [env.fulfill_fn(env.request()) for _ in range(8)]
    rec = Recorder(env.w3)
    sent: list[SentTx] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(fn) -> None:
        start.wait()
        try:
            s = txm.send(fn, on_signed=rec)
            with rec.lock:
                sent.append(s)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(s.nonce for s in sent) == list(range(8))
    assert sorted(n for _, n, _ in rec.calls) == list(range(8)) and not any(rec.known_at_signing)
    assert all(txm.wait(s)["status"] == 1 for s in sent)
    assert env.w3.eth.get_transaction_count(wallet.address) == 8
    assert txm.next_nonce() == 8


def test_stuck_transaction_is_bumped_with_the_same_nonce(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    fn = env.fulfill_fn(env.request())
    rec = Recorder(env.w3)
    with automine_off(env.w3):
        original = txm.send(fn, on_signed=rec)
        assert txm.status(original) is TxStatus.PENDING
        bumped = txm.bump(original, fn, on_signed=rec)
        assert bumped.nonce == original.nonce and bumped.tx_hash != original.tx_hash
        assert bumped.replaces == (original.tx_hash,)
        assert bumped.max_fee_per_gas * 1000 >= original.max_fee_per_gas * 1125
        assert bumped.max_priority_fee_per_gas * 1000 >= original.max_priority_fee_per_gas * 1125
        # Write-ahead for the replacement too, before the node had it.
        assert [c[0] for c in rec.calls] == [original.tx_hash, bumped.tx_hash] and rec.known_at_signing == [False] * 2
        env.mine()
    assert txm.status(bumped) is TxStatus.MINED
    assert txm.status(original) is TxStatus.REPLACED
    assert txm.receipt(original.tx_hash) is None
    receipt = txm.mined_receipt(bumped)
    assert receipt["transactionHash"].hex() == bumped.tx_hash[2:] and receipt["status"] == 1
    assert env.w3.eth.get_transaction_count(wallet.address) == 1


def test_bump_from_stored_raw_bytes_respects_the_cap(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    fn = env.fulfill_fn(env.request())
    with automine_off(env.w3):
        original = txm.send(fn, on_signed=lambda *a: None)
        capped = TxManager(env.w3, wallet, settings(max_fee_cap_wei=original.max_fee_per_gas))
        with pytest.raises(FeeCapError, match="above the fee cap"):
            capped.bump(original.raw, fn, on_signed=lambda *a: pytest.fail("signed above the cap"))
        bumped = txm.bump(original.raw, fn, on_signed=lambda *a: None)  # after a restart: only the raw is stored
        assert bumped.nonce == original.nonce
        env.mine()
    assert txm.status(bumped) is TxStatus.MINED


def test_bump_after_the_original_was_mined(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    fn = env.fulfill_fn(env.request())
    original = txm.send(fn, on_signed=lambda *a: None)  # automine: already mined
    rec = Recorder(env.w3)
    with pytest.raises(NonceConsumed) as info:
        txm.bump(original, fn, on_signed=rec)
    # The record goes back to the original, which exists (and is mined).
    assert [c[0] for c in rec.calls] == [info.value.sent.tx_hash, original.tx_hash]
    assert txm.status(info.value.sent) is TxStatus.MINED and txm.status(original.raw) is TxStatus.MINED
    assert txm.mined_receipt(info.value.sent)["transactionHash"].hex() == original.tx_hash[2:]
    assert env.w3.eth.get_transaction_count(wallet.address) == 1


def test_external_transaction_then_resync(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    first = txm.send(env.fulfill_fn(env.request()), on_signed=lambda *a: None)
    txm.wait(first)
    # The same key used outside the node: a plain transfer.
    base = env.w3.eth.get_block("latest")["baseFeePerGas"]
    external = wallet.sign_transaction({"to": env.w3.eth.accounts[5], "value": 1, "gas": 21000, "nonce": 1,
                                        "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9,
                                        "chainId": env.w3.eth.chain_id})
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(external.raw_transaction))
    result = txm.resync()
    assert result.next_nonce == 2 == env.w3.eth.get_transaction_count(wallet.address)
    assert result.lost == [] and result.rebroadcast == []
    nxt = txm.send(env.fulfill_fn(env.request()), on_signed=lambda *a: None)
    assert nxt.nonce == 2 and txm.wait(nxt)["status"] == 1


def test_our_nonce_taken_by_an_external_transaction_is_reported(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    request_id = env.request()
    fn = env.fulfill_fn(request_id)
    with automine_off(env.w3):
        ours = txm.send(fn, on_signed=lambda *a: None)
        # Someone else with the key sends nonce 0 with higher fees: it replaces ours in the mempool.
        external = wallet.sign_transaction({"to": env.w3.eth.accounts[5], "value": 1, "gas": 21000, "nonce": 0,
                                            "maxFeePerGas": 2 * ours.max_fee_per_gas,
                                            "maxPriorityFeePerGas": 2 * ours.max_priority_fee_per_gas,
                                            "chainId": env.w3.eth.chain_id})
        env.w3.eth.send_raw_transaction(external.raw_transaction)
        env.mine()
    assert txm.status(ours) is TxStatus.REPLACED
    result = txm.resync()
    assert [s.tx_hash for s in result.lost] == [ours.tx_hash]
    assert result.next_nonce == 1
    assert env.oracle.get_request(request_id).state == RequestState.OPEN
    # The caller sends the call again: a new nonce, mined.
    again = txm.send(fn, on_signed=lambda *a: None)
    assert again.nonce == 1 and txm.wait(again)["status"] == 1
    assert env.oracle.get_request(request_id).state == RequestState.FINALIZED


def test_dropped_transaction_and_idempotent_rebroadcast(env):
    wallet = env.wallet()
    txm = TxManager(env.w3, wallet, settings())
    fn_a, fn_b = env.fulfill_fn(env.request()), env.fulfill_fn(env.request())
    with automine_off(env.w3):
        a = txm.send(fn_a, on_signed=lambda *x: None)
        assert env.w3.provider.make_request("hardhat_dropTransaction", [a.tx_hash])["result"] is True
        assert txm.status(a) is TxStatus.DROPPED
        assert txm.rebroadcast(a.raw).tx_hash == a.tx_hash
        assert txm.status(a) is TxStatus.PENDING
        assert txm.rebroadcast(a.raw).tx_hash == a.tx_hash  # the node has it already: harmless
        env.mine()
        assert txm.status(a) is TxStatus.MINED
        txm.rebroadcast(a.raw)  # already mined: harmless, nothing new
        env.mine()
        assert env.w3.eth.get_transaction_count(wallet.address) == 1

        # resync re-broadcasts what the node forgot.
        b = txm.send(fn_b, on_signed=lambda *x: None)
        env.w3.provider.make_request("hardhat_dropTransaction", [b.tx_hash])
        result = txm.resync()
        assert [s.tx_hash for s in result.rebroadcast] == [b.tx_hash] and result.lost == []
        assert result.next_nonce == 2
        env.mine()
    assert txm.status(b) is TxStatus.MINED
    assert env.w3.eth.get_transaction_count(wallet.address) == 2


def test_rebroadcast_after_restart_with_a_fresh_manager(env):
    wallet = env.wallet()
    fn = env.fulfill_fn(env.request())
    stored: list[tuple[str, int, bytes]] = []

    def crash(tx_hash, nonce, raw):
        stored.append((tx_hash, nonce, raw))
        raise KeyboardInterrupt  # the process dies right after the write-ahead record

    with pytest.raises(KeyboardInterrupt):
        TxManager(env.w3, wallet, settings()).send(fn, on_signed=crash)
    assert env.w3.eth.get_transaction_count(wallet.address, "pending") == 0  # never broadcast

    restarted = TxManager(env.w3, wallet, settings())
    tx_hash, nonce, raw = stored[0]
    sent = restarted.rebroadcast(raw)
    assert (sent.tx_hash, sent.nonce) == (tx_hash, nonce)
    assert restarted.wait(sent)["status"] == 1
    restarted.rebroadcast(raw)
    assert restarted.resync().next_nonce == 1 == env.w3.eth.get_transaction_count(wallet.address)


def test_fee_cap_below_base_fee_raises_without_sending(env):
    wallet = env.wallet()
    fn = env.fulfill_fn(env.request())
    env.w3.provider.make_request("hardhat_setNextBlockBaseFeePerGas", [hex(100 * 10**9)])
    env.mine()
    base = env.w3.eth.get_block("latest")["baseFeePerGas"]
    assert base == 100 * 10**9
    txm = TxManager(env.w3, wallet, settings(max_fee_cap_wei=base - 1))
    with pytest.raises(FeeCapError, match=r"base fee 100000000000 wei is above the fee cap 99999999999 wei"):
        txm.send(fn, on_signed=lambda *a: pytest.fail("signed above the cap"))
    assert env.w3.eth.get_transaction_count(wallet.address, "pending") == 0
    # Between the base fee and 2 * base + tip: the cap is the max fee.
    base = env.w3.eth.get_block("latest")["baseFeePerGas"]
    capped = TxManager(env.w3, wallet, settings(max_fee_cap_wei=base + base // 2))
    sent = capped.send(fn, on_signed=lambda *a: None)
    assert sent.max_fee_per_gas == base + base // 2 and capped.wait(sent)["status"] == 1


def test_rejected_broadcast_gives_the_nonce_back(env):
    poor = env.wallet(value=0)
    txm = TxManager(env.w3, poor, settings())
    fn = env.fulfill_fn(env.request())
    rec = Recorder(env.w3)
    with pytest.raises(TxRejected, match="rejected") as info:
        txm.send(fn, on_signed=rec)
    assert rec.calls and info.value.tx_hash == rec.calls[0][0] and info.value.nonce == 0
    assert txm.next_nonce() == 0
    # on_signed failing: nothing is broadcast, the nonce is given back.
    rich = env.wallet()
    txm = TxManager(env.w3, rich, settings())

    def fail(*_):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        txm.send(fn, on_signed=fail)
    assert txm.next_nonce() == 0 and env.w3.eth.get_transaction_count(rich.address, "pending") == 0
    assert txm.send(fn, on_signed=lambda *a: None).nonce == 0


def test_transient_rpc_errors_are_retried_with_backoff(env, hardhat_node, monkeypatch):
    failures = {"left": 3}

    class Flaky(Web3.HTTPProvider):
        def make_request(self, method, params):
            if failures["left"] > 0:
                failures["left"] -= 1
                raise requests.ConnectionError("Connection refused")
            return super().make_request(method, params)

    sleeps: list[float] = []
    monkeypatch.setattr("oracle.chain.retry.time.sleep", sleeps.append)
    w3 = Web3(Flaky(hardhat_node.url, exception_retry_configuration=None))
    wallet = env.wallet()
    txm = TxManager(w3, wallet, settings(rpc_retries=5, rpc_backoff_s=0.5))
    assert txm.balance() == 10**19
    assert sleeps == [0.5, 1.0, 2.0]
    assert (txm.rpc.retried, txm.rpc.exhausted) == (3, 0)   # the retries are counted

    failures["left"] = 100
    sleeps.clear()
    with pytest.raises(RpcUnavailable, match=r"eth_getBalance: RPC unavailable after 3 tries"):
        TxManager(w3, wallet, settings(rpc_retries=2, rpc_backoff_s=0.5)).balance()
    assert sleeps == [0.5, 1.0]

    # Nothing listens: refused at once, retried, then a ChainError the daemon treats as an outage.
    dead = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{_closed_port()}", exception_retry_configuration=None))
    with pytest.raises(RpcUnavailable):
        TxManager(dead, wallet, settings(rpc_retries=1)).next_nonce()


def test_listener_retries_transient_rpc_errors(env, hardhat_node, tmp_path, monkeypatch):
    from oracle.listener import Listener, ListenerConfig
    from oracle.store import JobStore

    failures = {"left": 0}

    class Flaky(Web3.HTTPProvider):
        def make_request(self, method, params):
            if failures["left"] > 0:
                failures["left"] -= 1
                raise requests.ConnectionError("Connection refused")
            return super().make_request(method, params)

    monkeypatch.setattr("oracle.chain.retry.time.sleep", lambda s: None)
    w3 = Web3(Flaky(hardhat_node.url, exception_retry_configuration=None))
    start = env.w3.eth.block_number
    request_id = env.request()
    rpc = RetryingRpc(retries=3, backoff_s=0.01)
    store = JobStore(tmp_path / "jobs.sqlite")
    try:
        listener = Listener(AuditOracleClient(w3, env.oracle.address), store, ListenerConfig(start_block=start),
                            rpc=rpc)
        failures["left"] = 2       # eth_blockNumber fails twice, then the poll goes through
        assert listener.poll() == 1
        assert store.get("0x" + request_id.hex()) is not None
        assert (rpc.retried, rpc.exhausted) == (2, 0)
        failures["left"] = 100     # the endpoint stays down: bounded, then RpcUnavailable
        with pytest.raises(RpcUnavailable, match="RPC unavailable after 4 tries"):
            listener.poll()
        assert (rpc.retried, rpc.exhausted) == (5, 1)
    finally:
        store.close()


def test_is_transient_classifies_errors():
    class Resp:
        def __init__(self, code):
            self.status_code = code

    assert is_transient(requests.ConnectionError("refused"))
    assert is_transient(requests.ReadTimeout("slow"))
    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    assert is_transient(requests.HTTPError(response=Resp(503)))
    assert is_transient(requests.HTTPError(response=Resp(429)))
    assert not is_transient(requests.HTTPError(response=Resp(400)))
    assert not is_transient(SimulationError("reverted"))
    assert not is_transient(FeeCapError("cap"))
    assert not is_transient(ValueError("nonce too low"))
    assert is_transient(Web3RPCError("{'code': -32005, 'message': 'rate limit exceeded'}"))
    assert not is_transient(Web3RPCError("{'code': -32000, 'message': 'Nonce too low'}"))


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
