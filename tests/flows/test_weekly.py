"""The weekly flow end to end against a real Prefect API, the fake LM and a loopback Slack.

Each test generates sample weeks, points the judge and reflection LMs at a loopback fake
judge and runs ``weekly_judge_refresh`` for real: ingest, validation, splits, evaluation,
the library optimizer, the gate, publishing and alerts. They stay away from the embedded
Gemma model, from the internet and from timing (see bench/bench_flow.py).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from flows.params import BudgetParams, LMParams
from tasks.artifacts import ArtifactStore
from tasks.champion import list_versions, read_pointer
from tasks.gate import GateThresholds
from tests.fakes.openai_server import FakeOpenAIServer, server_error
from tests.fakes.slack_receiver import SlackReceiver
from tests.flows.scenario import RuleFake, annotation_rows, write_weeks

pytestmark = pytest.mark.prefect_server


@pytest.fixture
def inbox(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "inbox"
    return root, write_weeks(root, weeks=1)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch):
    with SlackReceiver() as receiver:
        monkeypatch.setenv("JUDGEFLOW_SLACK_WEBHOOK_URL", receiver.url)
        yield receiver


def lm(server: FakeOpenAIServer) -> LMParams:
    return LMParams(model="openai/fake-judge", api_base=server.api_base, max_retries=0, timeout_s=5, concurrency=8)


def run_week(server, root: Path, week: str, **options):
    from flows.weekly import weekly_judge_refresh

    options.setdefault("gate", GateThresholds(min_gain=0.5, require_significance=True, n_boot=500))
    return weekly_judge_refresh(
        week=week, data_dir=str(root), judge_lm=lm(server), reflection_lm=lm(server),
        budget=BudgetParams(max_calls=5000), **options,
    )


def kinds(slack: SlackReceiver) -> list[str]:
    return [p["text"].split(" judgeflow")[0] for p in slack.payloads]


def store() -> ArtifactStore:
    from judgeflow.config import load_settings

    return ArtifactStore(load_settings().artifacts)


def task_runs(state) -> dict[str, int]:
    """{task run name: how many times it ran} for the flow run behind ``state``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    return {r.name: r.run_count for r in runs}


def test_first_run_publishes_the_baseline_then_promotes_a_candidate_that_fixes_stale_ratings(
    prefect_results, inbox, slack
):
    root, weeks = inbox
    rows = annotation_rows(root, weeks)
    fake = RuleFake(rows, helped={r.id for r in rows if r.split in ("dev", "test") and r.gold >= 3})
    with FakeOpenAIServer(fake) as server:
        result = run_week(server, root, weeks[0])
        calls_first_run = server.calls
        server.clear()
        rerun = run_week(server, root, weeks[0])
        calls_rerun = server.calls

    decision = result["decision"]
    assert decision["promote"] is True, decision["reason"]
    assert decision["reason"].startswith("promoted: NMSE fell")
    assert decision["candidate"]["nmse"] < decision["champion"]["nmse"]
    assert {c["name"] for c in decision["checks"]} == {"parse_rate", "min_gain", "bucket_regression", "significance"}
    versions = list_versions(store())
    assert [(v.version, v.status, v.parent) for v in versions] == [
        ("v0001", "promoted", None), ("v0002", "promoted", "v0001")
    ]
    assert read_pointer(store())["version"] == "v0002"
    manifest = json.loads(store().read_bytes("v0002", "manifest.json"))
    assert manifest["optimizer"]["name"] == "library"
    assert "recency" in manifest["optimization"]["chosen_bullets"]
    assert manifest["decision"]["reason"] == decision["reason"]
    assert "## Instruction diff against the champion" in store().read_bytes("v0002", "report.md").decode()
    texts = [p["text"] for p in slack.payloads]
    assert texts[0].startswith(f":seedling: judgeflow {weeks[0]}: baseline published as v0001")
    assert texts[1].startswith(f":white_check_mark: judgeflow {weeks[0]}: candidate promoted as v0002")
    assert "*NMSE*: champion" in texts[1] and "95% CI" in texts[1] and "Open the flow run" in texts[1]

    # A rerun of the finished week resumes from the persisted results: no LM call, no new version.
    assert calls_first_run > 0 and calls_rerun == 0
    assert rerun["decision"]["reason"] == decision["reason"]
    assert [v.version for v in list_versions(store())] == ["v0001", "v0002"]
    assert rerun["published"]["candidate"]["existing"] is True


def test_candidate_that_breaks_the_output_format_on_test_is_kept_even_when_slack_is_down(
    prefect_results, inbox, slack
):
    root, weeks = inbox
    rows = annotation_rows(root, weeks)
    test_rows = [r for r in rows if r.split == "test"]
    fake = RuleFake(
        rows,
        helped={r.id for r in rows if r.split in ("dev", "test") and r.gold >= 3},
        broken_by_rule={r.id for r in test_rows[:2]},
    )
    slack.mode = "error"
    with FakeOpenAIServer(fake) as server:
        result = run_week(server, root, weeks[0], gate=GateThresholds(min_gain=0.0, max_parse_drop=0.0, n_boot=500))

    decision = result["decision"]
    assert decision["promote"] is False
    assert decision["reason"].startswith("kept: parse rate fell ")
    assert decision["reason"].endswith("more than the 0.0 allowed.")
    assert decision["candidate"]["parse_rate"] < decision["champion"]["parse_rate"] == 1.0
    assert [(v.version, v.status) for v in list_versions(store())] == [("v0001", "promoted"), ("v0002", "rejected")]
    assert read_pointer(store())["version"] == "v0001"
    # Slack answered 500 to every post: the flow still completed and the payloads say what happened.
    assert [a["delivered"] for a in result["alerts"]] == [False, False]
    assert slack.payloads[-1]["text"].startswith(f":information_source: judgeflow {weeks[0]}: champion kept (v0001)")
    assert "parse rate fell" in slack.payloads[-1]["text"]


def test_a_gain_on_a_single_test_example_is_kept_as_not_significant(prefect_results, inbox, slack):
    root, weeks = inbox
    rows = annotation_rows(root, weeks)
    one_test_row = next(r for r in rows if r.split == "test" and r.gold >= 3)
    fake = RuleFake(rows, helped={r.id for r in rows if r.split == "dev" and r.gold >= 3} | {one_test_row.id})
    with FakeOpenAIServer(fake) as server:
        result = run_week(server, root, weeks[0], gate=GateThresholds(min_gain=0.1, require_significance=True, n_boot=500))

    decision = result["decision"]
    assert decision["promote"] is False
    assert decision["delta_nmse"] < 0
    assert decision["reason"].startswith("kept: the NMSE change is not significant (95% CI")
    significance = next(c for c in decision["checks"] if c["name"] == "significance")
    assert significance["passed"] is False and significance["enforced"] is True
    assert read_pointer(store())["version"] == "v0001"
    assert "not significant" in slack.payloads[-1]["text"]


def test_a_batch_that_fails_validation_stops_the_run_and_alerts_without_touching_the_store(
    prefect_results, tmp_path, slack
):
    week = "2026-W46"
    folder = tmp_path / "bad-inbox" / week
    folder.mkdir(parents=True)
    rows = [{"query": f"q{i}", "document": f"doc {i}"} for i in range(30)]  # no rating column at all
    (folder / "annotations.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    from flows.weekly import weekly_judge_refresh

    with FakeOpenAIServer() as server:
        state = weekly_judge_refresh(
            week=week, data_dir=str(tmp_path / "bad-inbox"), judge_lm=lm(server), reflection_lm=lm(server),
            return_state=True,
        )
        calls = server.calls

    assert state.is_failed()
    assert calls == 0
    assert [count for name, count in task_runs(state).items() if name.startswith("ingest")] == [1]  # no retry
    assert list_versions(store()) == []
    assert len(slack.payloads) == 1
    text = slack.payloads[0]["text"]
    assert text.startswith(f":warning: judgeflow {week}: validation failed, nothing was loaded")
    assert "Fix the input files and rerun the week." in text
    from judgeflow.config import load_settings
    from judgeflow.store import open_store

    with open_store(load_settings().database) as con:
        assert con.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0


def test_a_dead_lm_endpoint_fails_the_run_at_the_champion_evaluation_and_names_it(prefect_results, inbox, slack):
    root, weeks = inbox
    from flows.weekly import weekly_judge_refresh

    with FakeOpenAIServer(server_error(500)) as server:
        state = weekly_judge_refresh(
            week=weeks[0], data_dir=str(root), judge_lm=lm(server), reflection_lm=lm(server), return_state=True,
        )
        calls = server.calls

    assert state.is_failed()
    assert calls > 0
    assert task_runs(state)["evaluate-champion"] == 3  # a transient LM failure: two Prefect retries
    assert list_versions(store()) == []
    text = slack.payloads[-1]["text"]
    assert text.startswith(f":x: judgeflow {weeks[0]}: run failed at step evaluate-champion")
    assert "LMErrorRateExceeded" in text
    assert "The champion pointer was not moved" in text


def test_a_second_run_of_a_week_being_published_stops_with_a_clear_message(prefect_results, inbox, slack):
    from flows.weekly import weekly_judge_refresh
    from tasks.artifacts import LockHeldError, week_lock

    root, weeks = inbox
    with FakeOpenAIServer() as server, week_lock(store(), weeks[0], run_id="the-first-run"):
        state = weekly_judge_refresh(
            week=weeks[0], data_dir=str(root), judge_lm=lm(server), reflection_lm=lm(server), return_state=True,
        )
        calls = server.calls

    assert state.is_failed()
    with pytest.raises(LockHeldError, match=f"week {weeks[0]} is already being published by run the-first-run"):
        state.result()
    assert calls == 0
    assert "is already being published by run the-first-run" in slack.payloads[-1]["text"]


def _paused_run_id(timeout: float = 120.0):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"])))
            )
            if runs:
                return runs[0].id
            time.sleep(0.5)
    raise AssertionError("the flow never paused for approval")


def test_require_approval_stages_the_candidate_and_the_reviewers_answer_promotes_it(prefect_results, inbox, slack):
    from prefect.flow_runs import resume_flow_run

    root, weeks = inbox
    rows = annotation_rows(root, weeks)
    fake = RuleFake(rows, helped={r.id for r in rows if r.split in ("dev", "test") and r.gold >= 3})
    outcome: dict = {}
    with FakeOpenAIServer(fake) as server:
        runner = threading.Thread(
            target=lambda: outcome.update(result=run_week(server, root, weeks[0], require_approval=True)), daemon=True
        )
        runner.start()
        run_id = _paused_run_id()
        staged = [(v.version, v.status, v.approved) for v in list_versions(store())]
        assert read_pointer(store())["version"] == "v0001"
        resume_flow_run(run_id, run_input={"approved": True, "approver": "ana", "comment": "recency fix looks right"})
        runner.join(timeout=120)

    assert staged == [("v0001", "promoted", None), ("v0002", "staged", None)]
    published = outcome["result"]["published"]
    assert published["approval"] == {"approved": True, "approver": "ana", "comment": "recency fix looks right"}
    assert published["candidate"]["approved"] is True
    assert read_pointer(store())["version"] == "v0002"
    assert "approved by ana" in read_pointer(store())["reason"]
    text = slack.payloads[-1]["text"]
    assert text.startswith(f":white_check_mark: judgeflow {weeks[0]}: candidate promoted as v0002")
    assert "approved" in text


def test_an_approval_nobody_gives_within_the_timeout_rejects_the_staged_candidate(prefect_results, inbox, slack):
    root, weeks = inbox
    rows = annotation_rows(root, weeks)
    fake = RuleFake(rows, helped={r.id for r in rows if r.split in ("dev", "test") and r.gold >= 3})
    with FakeOpenAIServer(fake) as server:
        result = run_week(server, root, weeks[0], require_approval=True, approval_timeout_s=3)

    candidate = result["published"]["candidate"]
    assert (candidate["version"], candidate["status"], candidate["approved"]) == ("v0002", "staged", False)
    assert read_pointer(store())["version"] == "v0001"
    text = slack.payloads[-1]["text"]
    assert text.startswith(f":information_source: judgeflow {weeks[0]}: champion kept (v0001)")
    assert "Staged as v0002: rejected (no answer within 3 s: rejected by timeout)." in text
