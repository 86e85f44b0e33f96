"""`judgeflow run`: the weekly flow once from the command line, in-process.

Runs against the session's Prefect API and the fake LM; it stays away from `serve` and
`quickstart` (they start a Prefect server, a worker and the local model: see the report).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.fakes.openai_server import FakeOpenAIServer
from tests.flows.scenario import RuleFake, annotation_rows, write_weeks

pytestmark = pytest.mark.prefect_server


def test_judgeflow_run_prints_one_json_row_and_keeps_task_results_under_home(prefect_api, tmp_path, _isolated_home):
    from judgeflow.cli import _register, cli

    _register()
    root = tmp_path / "inbox"
    weeks = write_weeks(root, weeks=1, per_week=60)
    rows = annotation_rows(root, weeks)
    with FakeOpenAIServer(RuleFake(rows)) as server:
        outcome = CliRunner().invoke(cli, [
            "run", "--week", weeks[0], "--data-dir", str(root), "--judge-model", "openai/fake-judge",
            "--api-base", server.api_base, "--dry-run", "--json",
        ])

    assert outcome.exit_code == 0, outcome.output
    row = json.loads(outcome.output.strip().splitlines()[-1])
    assert row["week"] == weeks[0]
    assert row["decision"] == "kept"  # nothing to fix: the fake answers every example right
    assert row["champion"] is None  # a dry run publishes nothing, not even the baseline
    assert row["champion_parse"] == 1.0
    assert any((_isolated_home / "prefect-results").iterdir())


def test_judgeflow_run_turns_a_failed_run_into_one_line_and_a_non_zero_exit(prefect_api, tmp_path):
    from judgeflow.cli import _register, cli

    _register()
    outcome = CliRunner().invoke(cli, ["run", "--week", "2026-W46", "--data-dir", str(tmp_path / "empty")])

    assert outcome.exit_code != 0
    assert "the weekly run for 2026-W46 failed" in outcome.output
    assert "no input files for week 2026-W46" in outcome.output
