"""The rollback flow against a real Prefect API and a loopback Slack receiver.

Versions are published straight through tasks.publish (the weekly flow's tests cover how
they get there); these tests stay away from LMs and from the weekly pipeline.
"""

from __future__ import annotations

import pytest

from tasks.artifacts import ArtifactStore
from tasks.champion import read_pointer
from tasks.publish import publish_version
from tests.fakes.slack_receiver import SlackReceiver

pytestmark = pytest.mark.prefect_server


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch):
    with SlackReceiver() as receiver:
        monkeypatch.setenv("JUDGEFLOW_SLACK_WEBHOOK_URL", receiver.url)
        yield receiver


def _publish_two_champions() -> ArtifactStore:
    from judgeflow.config import load_settings

    store = ArtifactStore(load_settings().artifacts)
    for week, instruction, nmse in (("2026-W45", "first", 20.0), ("2026-W46", "second", 12.5)):
        manifest = {"week": week, "candidate_metrics": {"nmse": nmse, "parse_rate": 0.9}, "decision": {"reason": "promoted."}}
        publish_version(store, {"instruction": instruction}, manifest, f"# {week}\n", promote=True)
    return store


def test_rollback_moves_the_champion_back_to_the_previous_version_and_alerts(prefect_results, slack):
    from flows.rollback import rollback_judge

    store = _publish_two_champions()
    moved = rollback_judge(reason="the v0002 judge over-rates tickets")

    assert (moved["from"], moved["version"]) == ("v0002", "v0001")
    assert read_pointer(store)["version"] == "v0001"
    assert read_pointer(store)["reason"] == "the v0002 judge over-rates tickets"
    text = slack.payloads[-1]["text"]
    assert text.startswith(":rewind: judgeflow champion rolled back from v0002 to v0001")
    assert "*Reason*: the v0002 judge over-rates tickets" in text
    assert "*v0001 NMSE*: 20.0, parse rate 90.0%" in text


def test_rollback_to_a_version_that_does_not_exist_fails_and_alerts_the_failure(prefect_results, slack):
    from flows.rollback import rollback_judge

    store = _publish_two_champions()
    state = rollback_judge(to_version="v0009", return_state=True)

    assert state.is_failed()
    assert read_pointer(store)["version"] == "v0002"
    text = slack.payloads[-1]["text"]
    assert "run failed at step rollback-champion" in text
    assert "version v0009 does not exist" in text
