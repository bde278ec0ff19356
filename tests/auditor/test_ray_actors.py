"""Warm audits on Ray (auditor/runtime/ray_actors.py) against a real two-node Ray cluster on this
machine: two `ray start --block` processes (a head and a second node, one CPU each, private temp
dirs, free ports, a token of their own) started by the fixture and stopped after, with every
process they started. Never `ray stop`: that would stop every Ray instance on the machine."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from testsupport.servers import servers
from testsupport.waiting import wait_for

from auditor.options import AuditOptions
from auditor.runtime.isolated import AuditCrashed, AuditTimeout
from auditor.runtime.ray_actors import RayActorPool
from auditor.runtime.warm import PoolConfig, WarmPool

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")
OPTIONS = AuditOptions(tools=("slither",), review="none", hosted=True, use_cache=False)
AUTH = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")
pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    address: str
    env: dict
    node_ids: set
    tmp: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(args: list[str], temp: Path, env: dict) -> subprocess.Popen:
    """One node: `ray start --block`, every port of its own free (two nodes share this machine)."""
    ports = ("node-manager", "object-manager", "dashboard-agent-listen", "dashboard-agent-grpc",
             "runtime-env-agent", "metrics-export")
    temp.mkdir()
    with open(temp.with_suffix(".log"), "wb") as log:
        return subprocess.Popen([RAY, "start", *args, "--num-cpus=1", f"--temp-dir={temp}", "--disable-usage-stats",
                                 "--block", *(f"--{p}-port={_free_port()}" for p in ports)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each `ray start --block` (it stops its node's processes), then SIGKILL whatever of
    their process trees is left: only this cluster's processes."""
    tree = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            tree += psutil.Process(p.pid).children(recursive=True)
    for p in reversed(procs):                  # the second node first, the head last
        p.terminate()
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    for p in tree:
        with contextlib.suppress(psutil.Error):
            p.kill()


@contextlib.contextmanager
def _token_auth(env: dict):
    """This process's Ray driver uses the cluster's token (Ray reads its mode once, at import)."""
    from ray._raylet import AuthenticationTokenLoader, Config

    saved = {k: os.environ.get(k) for k in AUTH}
    os.environ.update({k: env[k] for k in AUTH})
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture(scope="module")
def cluster():
    import ray

    from auditor.runtime.executors import ray_init

    tmp = Path(tempfile.mkdtemp(prefix="ssray-", dir="/tmp"))    # short: Ray's socket paths must fit 107 bytes
    token = tmp / "token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    (tmp / "work").mkdir()                  # the nodes' TMPDIR: what their actors leave goes with the cluster
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), "RAY_USAGE_STATS_ENABLED": "0",
           "TMPDIR": str(tmp / "work")}
    port, procs = _free_port(), []
    address = f"127.0.0.1:{port}"

    def alive() -> None:
        for p in procs:
            assert p.poll() is None, f"a Ray node exited: {(tmp / 'head.log').read_text(errors='replace')[-2000:]}"

    try:
        procs.append(_start(["--head", f"--port={port}", "--include-dashboard=false",
                             f"--dashboard-port={_free_port()}", f"--ray-client-server-port={_free_port()}"],
                            tmp / "head", env))
        wait_for(lambda: _listening(port), 120, "the Ray head", fail=alive)
        procs.append(_start([f"--address={address}"], tmp / "node2", env))
        if ray.is_initialized():
            ray.shutdown()
        with _token_auth(env):
            ray_init(address)
            try:
                nodes = wait_for(lambda: {n["NodeID"] for n in ray.nodes() if n["Alive"]} if sum(
                    n["Alive"] for n in ray.nodes()) == 2 else None, 120, "two alive Ray nodes", fail=alive)
                yield Cluster(address, env, nodes, tmp / "work")
            finally:
                ray.shutdown()
    finally:
        _stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    shutil.copy(ROOT / "examples" / "EtherBank.sol", d / "Bank.sol")
    return d


@pytest.fixture
def actors(cluster):
    made = []

    def make(size: int) -> RayActorPool:
        made.append(RayActorPool(PoolConfig(size=size), ray_address=cluster.address))
        made[-1].start()
        return made[-1]

    yield make
    for pool in made:
        pool.close()


def _findings(report) -> list:
    return [f.model_dump(mode="json") for f in report.findings]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _info(actor) -> dict:
    import ray

    return ray.get(actor.info.remote(), timeout=60)


def test_actors_spread_over_both_nodes_and_find_what_the_local_pool_finds(cluster, actors, src):
    local = WarmPool(PoolConfig(size=1))
    local.start()
    try:
        expected = _findings(local.run(src, OPTIONS, 300))
    finally:
        local.close()
    assert any(f["category"] == "reentrancy" for f in expected)
    pool = actors(2)
    infos = wait_for(lambda: len(i := pool.infos()) == 2 and i, 120, "both actors to answer")
    assert {i["node"] for i in infos} == cluster.node_ids
    with ThreadPoolExecutor(2) as ex:         # two at once: each on an actor of its own
        reports = list(ex.map(lambda _: pool.run(src, OPTIONS, 300), range(2)))
    assert [_findings(r) for r in reports] == [expected, expected]
    assert sorted(i["audits"] for i in pool.infos()) == [1, 1]
    assert pool.ready() == 2 and pool.nodes() == sorted(cluster.node_ids)


def test_close_stops_the_workers_and_removes_their_folders(cluster, actors, src):
    before = set(cluster.tmp.glob("solsentry-*"))       # what actors SIGKILLed by other tests left
    pool = actors(2)
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda _: pool.run(src, OPTIONS, 300), range(2)))
    workers = [w for i in pool.infos() for w in i["workers"]]
    assert len(workers) == 2 and len(set(cluster.tmp.glob("solsentry-pool-*")) - before) == 2
    pool.close()
    assert all(_gone(w) for w in workers) and set(cluster.tmp.glob("solsentry-*")) <= before


def test_an_audit_over_its_budget_times_out_and_the_next_one_succeeds(actors, src):
    pool = actors(1)
    pool.run(src, OPTIONS, 300)                 # warm
    (actor,) = pool.actors()
    before = _info(actor)
    os.kill(before["workers"][0], signal.SIGSTOP)      # hung: it cannot answer within any budget
    with pytest.raises(AuditTimeout, match=r"budget of 2 s"):
        pool.run(src, OPTIONS, 2)
    wait_for(lambda: _gone(before["workers"][0]), 30, "the timed-out worker to be killed")
    assert any(f.category == "reentrancy" for f in pool.run(src, OPTIONS, 300).findings)
    after = _info(actor)
    assert pool.actors() == [actor] and after["pid"] == before["pid"]      # the actor stayed, its worker did not
    assert after["workers"] != before["workers"]


def test_an_actor_killed_while_idle_is_replaced(actors, src):
    import ray

    pool = actors(1)
    pool.run(src, OPTIONS, 300)
    (actor,) = pool.actors()
    worker = _info(actor)["workers"][0]
    ray.kill(actor)
    assert any(f.category == "reentrancy" for f in pool.run(src, OPTIONS, 300).findings)
    assert len(pool.actors()) == 1 and pool.actors() != [actor]
    wait_for(lambda: _gone(worker), 30, "the dead actor's worker to die with it")


def test_an_actor_sigkilled_during_an_audit_fails_it_and_is_replaced(actors, src):
    pool = actors(1)
    pool.run(src, OPTIONS, 300)
    (actor,) = pool.actors()
    info = _info(actor)
    worker = info["workers"][0]
    os.kill(worker, signal.SIGSTOP)             # the audit cannot finish before the actor is killed
    outcome: list = []

    def audit() -> None:
        try:
            outcome.append(pool.run(src, OPTIONS, 300))
        except Exception as exc:
            outcome.append(exc)

    t = threading.Thread(target=audit)
    t.start()
    try:
        wait_for(lambda: _info(actor)["busy"], 60, "the actor to be auditing")
        os.kill(info["pid"], signal.SIGKILL)
    finally:
        os.kill(worker, signal.SIGCONT)         # it sees its parent gone and kills itself
    t.join(120)
    assert len(outcome) == 1 and isinstance(outcome[0], AuditCrashed), outcome
    wait_for(lambda: _gone(worker), 30, "the dead actor's worker to die with it")
    assert any(f.category == "reentrancy" for f in pool.run(src, OPTIONS, 300).findings)
    assert len(pool.actors()) == 1 and pool.actors() != [actor]


@pytest.fixture
def make_server():
    yield from servers()


def test_serve_audits_on_warm_actors_of_the_cluster(cluster, make_server, tmp_path):
    s = make_server(tmp_path / "api", env=cluster.env).start(
        "--insecure-dev", "--executor", "ray", "--ray-address", cluster.address, "--workers", "2", timeout=120)
    health = wait_for(lambda: (h := json.loads(s.call("GET", "/healthz")[1])["workers"])["ready"] == 2 and h,
                      180, "two warm actors", interval=0.5)
    assert (health["executor"], health["isolation"]) == ("ray", "warm")
    body = json.dumps({"files": {"Bank.sol": (ROOT / "examples" / "EtherBank.sol").read_text()},
                       "options": {"tools": ["slither"], "review": "none"}}).encode()
    code, answer, _ = s.call("POST", "/v1/audits", body)
    assert code == 202, answer
    audit_id = json.loads(answer)["id"]
    doc = wait_for(lambda: (d := json.loads(s.call("GET", f"/v1/audits/{audit_id}")[1]))["status"]
                   in ("done", "failed") and d, 300, "the audit to finish", interval=0.5)
    assert doc["status"] == "done", (doc, s.log())
    code, answer, _ = s.call("GET", f"/v1/audits/{audit_id}/report")
    assert code == 200, answer
    assert any(f["category"] == "reentrancy" for f in json.loads(answer)["findings"])
