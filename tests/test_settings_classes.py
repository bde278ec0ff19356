"""The three settings classes in process: one root, one derivation of the paths under it, and prefixes
that never read one variable for two things."""

from __future__ import annotations

from auditor.api.config import ApiSettings
from auditor.config import HOME_ENV, Settings, env_names
from oracle.config import OracleSettings, shared_fields


def test_every_class_derives_its_paths_from_the_one_root(tmp_path, monkeypatch):
    for name in [*env_names(Settings, ApiSettings, OracleSettings)]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    auditor, api, oracle = Settings(), ApiSettings(), OracleSettings()
    assert auditor.home == api.home == oracle.home == tmp_path
    assert auditor.cache_dir == tmp_path and auditor.results_path == tmp_path / "results"
    assert api.data_dir == tmp_path / "api" and oracle.chain_dir == tmp_path / "chain"
    assert api.oracle_db == oracle.db_path == tmp_path / "oracle" / "jobs.sqlite"   # where the API reads outputs
    monkeypatch.setenv("SOLSENTRY_DB_PATH", str(tmp_path / "elsewhere.sqlite"))     # a specific variable wins
    assert OracleSettings().db_path == tmp_path / "elsewhere.sqlite"


def test_prefixes_read_each_variable_for_one_thing():
    auditor, api, oracle = env_names(Settings), env_names(ApiSettings), env_names(OracleSettings)
    assert HOME_ENV in auditor & api & oracle
    assert shared_fields() == set() and auditor & oracle == {HOME_ENV}
    assert all(n.startswith("SOLSENTRY_API_") for n in api - {HOME_ENV})
    assert not {n for n in auditor | oracle if n.startswith("SOLSENTRY_API_")}
    # public names, documented and tested elsewhere, unchanged
    assert {"SOLSENTRY_CACHE_DIR", "SOLSENTRY_MYTHRIL_TIMEOUT_S", "FOUNDRY_PROFILE"} <= auditor
    assert {"SOLSENTRY_API_DATA_DIR", "SOLSENTRY_API_ORACLE_DB", "SOLSENTRY_API_WORKERS"} <= api
    assert {"SOLSENTRY_DB_PATH", "SOLSENTRY_CONFIRMATIONS", "SOLSENTRY_KEYSTORE_FILE"} <= oracle
