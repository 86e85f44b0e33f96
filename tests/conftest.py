"""Shared fixtures: every test gets its own DuckDB file, home folder and offline settings.

Nothing here touches the user's home directory or the network beyond 127.0.0.1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Offline before anything imports litellm or dspy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# The loopback OpenAI-compatible server fixtures (fake_llm, fake_llm_session) for every test.
pytest_plugins = ["tests.fakes.fixtures"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every judgeflow path (and dspy's cache) into this test's tmp folder."""
    home = tmp_path / "jf-home"
    monkeypatch.setenv("JUDGEFLOW_HOME", str(home))
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy-cache"))
    for name in ("JUDGEFLOW_DB", "JUDGEFLOW_SCALE", "JUDGEFLOW_ARTIFACTS", "JUDGEFLOW_SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh DuckDB file for this test."""
    return tmp_path / "store.duckdb"


@pytest.fixture
def con(db_path: Path):
    """An open, migrated store connection, closed after the test."""
    from judgeflow.store import connect

    connection = connect(db_path)
    yield connection
    connection.close()
