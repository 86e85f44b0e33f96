"""`judgeflow history` and `judgeflow rollback` over a local artifact store.

Stays away from DSPy and Prefect: versions hold plain JSON programs, and the rollback alert
goes to the loopback Slack receiver (or the console, when no webhook is configured).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from judgeflow.config import SLACK_WEBHOOK_ENV
from tasks.artifacts import ArtifactStore
from tasks.champion import read_pointer
from tasks.publish import publish_version
from tests.fakes.slack_receiver import SlackReceiver


@pytest.fixture
def cli():
    from judgeflow.cli import _register, cli

    _register()
    return cli


@pytest.fixture
def store(tmp_path, monkeypatch) -> ArtifactStore:
    monkeypatch.setenv("PREFECT_API_URL", "")  # no Prefect API: no Secret-block lookup
    url = tmp_path / "artifacts"
    monkeypatch.setenv("JUDGEFLOW_ARTIFACTS", str(url))
    store = ArtifactStore(url)
    for i, (week, nmse, promote) in enumerate(
        [("2026-W45", 12.5, True), ("2026-W46", 11.0, False), ("2026-W47", 9.25, True)]
    ):
        manifest = {
            "week": week,
            "scale": "1-5",
            "candidate_metrics": {"nmse": nmse, "parse_rate": 0.975},
        }
        publish_version(store, {"program": i}, manifest, "report", promote=promote)
    return store


def test_history_lists_every_version_and_marks_the_champion(cli, store):
    result = CliRunner().invoke(cli, ["history"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["version", "week", "status", "NMSE", "parse", "created"]
    assert lines[1].split()[:5] == ["v0001", "2026-W45", "promoted", "12.50", "97.5%"]
    assert lines[2].split()[:3] == ["v0002", "2026-W46", "rejected"]
    assert lines[3].split()[:4] == ["*", "v0003", "2026-W47", "promoted"]


def test_history_json_is_one_object_with_the_champion_flag(cli, store):
    result = CliRunner().invoke(cli, ["history", "--json"])
    data = json.loads(result.output)
    assert [(v["version"], v["champion"], v["nmse"]) for v in data["versions"]] == [
        ("v0001", False, 12.5),
        ("v0002", False, 11.0),
        ("v0003", True, 9.25),
    ]


def test_history_of_an_empty_store_says_so(cli, tmp_path):
    result = CliRunner().invoke(cli, ["history", "--artifacts", str(tmp_path / "empty")])
    assert result.exit_code == 0 and "no versions published" in result.output


def test_rollback_moves_the_pointer_back_and_posts_the_alert_to_slack(cli, store, monkeypatch):
    with SlackReceiver() as slack:
        monkeypatch.setenv(SLACK_WEBHOOK_ENV, slack.url)
        result = CliRunner().invoke(cli, ["rollback", "--reason", "labels of W47 were wrong"])
    assert result.exit_code == 0, result.output
    assert "champion rolled back from v0003 to v0001 (week 2026-W45): labels of W47 were wrong" in result.output
    assert read_pointer(store)["version"] == "v0001"
    assert len(slack.payloads) == 1
    text = slack.payloads[0]["text"]
    assert "rolled back from v0003 to v0001" in text and "labels of W47 were wrong" in text
    assert "NMSE*: 12.5" in text
    assert slack.url not in result.output


def test_rollback_to_a_version_with_json_keeps_stdout_parseable_and_prints_the_alert_to_stderr(cli, store):
    runner = CliRunner()
    runner.invoke(cli, ["rollback"])
    result = runner.invoke(cli, ["rollback", "--to", "v0003", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["from"], data["champion"]["version"]) == ("v0001", "v0003")
    assert "[slack alert, no webhook configured]" in result.stderr


def test_rollback_errors_are_one_line_without_a_traceback(cli, store):
    result = CliRunner().invoke(cli, ["rollback", "--to", "v0002"])
    assert result.exit_code != 0
    assert "v0002 was never champion" in result.output and "Traceback" not in result.output
    first = CliRunner().invoke(cli, ["rollback", "--to", "v0001"])
    assert first.exit_code == 0
    again = CliRunner().invoke(cli, ["rollback"])
    assert again.exit_code == 0 and "to v0003" in again.output
