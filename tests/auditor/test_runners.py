"""The audit runners' registry (auditor/runtime/runners.py): one list that `solsentry serve` and
`solsentry oracle run` both read, so every executor and isolation their settings accept has a
runner, and a combination without one is refused with a clear error."""

from __future__ import annotations

import typing

import pytest

from auditor.api.config import ApiSettings
from auditor.errors import AuditorError
from auditor.runtime.runners import EXECUTORS, ISOLATIONS, RUNNERS, FreshRunner, make_runner
from auditor.runtime.warm import PoolConfig, WarmPool
from oracle.config import OracleSettings


def _choices(model, name: str) -> set[str]:
    return set(typing.get_args(model.model_fields[name].annotation))


def test_every_setting_the_services_accept_has_a_runner():
    assert _choices(ApiSettings, "executor") == _choices(OracleSettings, "audit_executor") == set(EXECUTORS)
    assert _choices(ApiSettings, "isolation") == _choices(OracleSettings, "audit_isolation") == set(ISOLATIONS)
    assert set(RUNNERS) == {(e, i) for e in EXECUTORS for i in ISOLATIONS}
    assert ApiSettings().isolation == OracleSettings().audit_isolation == "warm"   # what ships


def test_the_serve_command_offers_the_registered_isolations():
    from auditor.commands.serve import serve_cmd

    (option,) = [p for p in serve_cmd.params if p.name == "isolation"]
    assert set(option.type.choices) == set(ISOLATIONS)


def test_local_runners_are_built_without_starting_anything():
    config = PoolConfig(size=1)
    assert isinstance(make_runner("local", "fresh", config), FreshRunner)
    pool = make_runner("local", "warm", config)
    assert isinstance(pool, WarmPool) and pool.pids() == [] and pool.ready() == 0
    pool.close()


def test_an_unknown_combination_is_refused_by_name():
    with pytest.raises(AuditorError, match=r"no audit runner for executor 'k8s' with isolation 'warm'; executors: "
                                           r"local, ray; isolations: fresh, warm"):
        make_runner("k8s", "warm", PoolConfig())
