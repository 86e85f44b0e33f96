"""Fixtures for flow tests: one Prefect API per session, and results kept in each test's folder.

The harness starts a real Prefect server (SQLite in a temp folder) once, about 9 s; every
flow test in the session talks to it. Nothing here touches ~/.prefect.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The API URL of a session-wide Prefect test server."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def prefect_results(prefect_api: str, tmp_path: Path) -> Iterator[Path]:
    """Persist task results (the resume cache) under this test's folder."""
    from prefect.settings import (
        PREFECT_RESULTS_LOCAL_STORAGE_PATH,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT,
        temporary_settings,
    )

    path = tmp_path / "prefect-results"
    with temporary_settings(
        updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: path, PREFECT_RESULTS_PERSIST_BY_DEFAULT: True}
    ):
        yield path
