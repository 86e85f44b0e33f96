"""Pytest fixtures around the fake OpenAI server; register with
``pytest_plugins = ["tests.fakes.fixtures"]`` in the root conftest, or import them.

The fixtures never reach past 127.0.0.1 and keep each request log in the test's tmp folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from judgeflow.config import LMConfig
from tests.fakes.openai_server import DEFAULT_MODEL, FakeOpenAIServer


def fake_lm_config(server: FakeOpenAIServer, **overrides: object) -> LMConfig:
    """An LMConfig pointing at ``server``: short timeout, few retries, not the local model."""
    values: dict[str, object] = {
        "model": f"openai/{DEFAULT_MODEL}",
        "api_base": server.api_base,
        "local": False,
        "timeout_s": 5.0,
        "max_retries": 2,
        "concurrency": 4,
    }
    values.update(overrides)
    return LMConfig(**values)


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeOpenAIServer]:
    """A fresh fake server for one test (answers a valid rating 4 until scripted otherwise)."""
    with FakeOpenAIServer(log_path=tmp_path / "llm_requests.jsonl") as server:
        yield server


@pytest.fixture(scope="session")
def fake_llm_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeOpenAIServer]:
    """One fake server for the session; call ``set_responder`` and ``clear`` per test."""
    log = tmp_path_factory.mktemp("fake-llm") / "llm_requests.jsonl"
    with FakeOpenAIServer(log_path=log) as server:
        yield server
