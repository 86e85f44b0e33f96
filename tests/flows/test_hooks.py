"""What the flow tells Slack and the form's LM knobs, as pure functions.

No Prefect server and no LM here: the flow tests (test_weekly.py) send these messages for
real; these pin the wording of the edge cases (staged, dry run, first run) cheaply.
"""

from __future__ import annotations

from flows.hooks import failure_message, outcome_messages
from flows.params import LMParams
from flows.runner import format_table, summary_row
from judgeflow.config import LMConfig
from judgeflow.errors import ValidationFailedError
from tasks.gate import decide_from_metrics

CHAMPION = {"nmse": 20.0, "parse_rate": 1.0, "n": 30, "nmse_by_gold": {"3": 10.0}}
CANDIDATE = {"nmse": 12.0, "parse_rate": 1.0, "n": 30, "nmse_by_gold": {"3": 8.0}}


def promoted_decision() -> dict:
    return decide_from_metrics(CHAMPION, CANDIDATE, (-8.0, -11.0, -5.0)).model_dump(mode="json")


def test_first_run_announces_the_baseline_before_the_decision():
    published = {"baseline": {"version": "v0001", "status": "promoted"},
                 "candidate": {"version": "v0002", "status": "promoted"}, "champion_version": "v0002"}
    messages = outcome_messages("2026-W46", promoted_decision(), published, None)
    assert [m.kind for m in messages] == ["baseline", "promoted"]
    assert messages[0].text.startswith(":seedling: judgeflow 2026-W46: baseline published as v0001")
    assert "*NMSE*: 20.0" in messages[0].text


def test_a_staged_candidate_waiting_for_approval_is_reported_as_kept_until_approved():
    published = {"candidate": {"version": "v0002", "status": "staged", "approved": None}, "champion_version": "v0001"}
    [message] = outcome_messages("2026-W46", promoted_decision(), published, None)
    assert message.kind == "kept"
    assert "Staged as v0002: awaiting approval." in message.text


def test_an_approved_candidate_is_announced_as_promoted_with_the_reviewer():
    published = {"candidate": {"version": "v0002", "status": "staged", "approved": True},
                 "approval": {"approved": True, "approver": "ana", "comment": "ok"}, "champion_version": "v0002"}
    [message] = outcome_messages("2026-W46", promoted_decision(), published, "http://127.0.0.1:4200/flow-runs/x")
    assert message.kind == "promoted"
    assert "Staged as v0002: approved by ana (ok)." in message.text
    assert "<http://127.0.0.1:4200/flow-runs/x|Open the flow run>" in message.text


def test_a_dry_run_says_nothing_was_published_even_when_the_gate_would_promote():
    [message] = outcome_messages("2026-W46", promoted_decision(), {"dry_run": True, "champion_version": None}, None)
    assert message.kind == "kept"
    assert "Dry run: nothing was published." in message.text


def test_a_refused_batch_gets_the_validation_message_and_other_errors_name_the_step():
    refused = failure_message("2026-W46", "ingest", ValidationFailedError("required column 'rating' is missing"), None)
    assert refused.kind == "validation_failed" and "required column 'rating' is missing" in refused.text
    failed = failure_message("2026-W46", "optimize", RuntimeError("boom"), None)
    assert failed.text.startswith(":x: judgeflow 2026-W46: run failed at step optimize")
    assert "RuntimeError: boom" in failed.text


def test_form_lm_fields_override_only_what_was_filled_in():
    base = LMConfig(model="openai/gemma3-270m-local", local=True, max_tokens=256)
    picked = LMParams(model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY").resolve(base)
    assert (picked.model, picked.local, picked.api_key_env, picked.max_tokens) == (
        "openai/gpt-4o-mini", False, "OPENAI_API_KEY", 256
    )
    assert LMParams().resolve(base) == base


def test_the_quickstart_table_shows_week_decision_and_both_judges_metrics():
    result = {"week": "2026-W46", "decision": promoted_decision(),
              "published": {"champion_version": "v0002"}}
    table = format_table([summary_row(result)])
    header, _rule, row = table.splitlines()
    assert header.split("  ")[0] == "week"
    assert "champion NMSE" in header and "candidate parse" in header
    assert row.split()[:5] == ["2026-W46", "promoted", "v0002", "20.00", "12.00"]
    assert row.split()[5:] == ["100.0%", "100.0%"]
