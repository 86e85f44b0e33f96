"""Alerts for every way a run ends: the outcome message, and hooks for failed and crashed runs.

``outcome_message`` picks the message for a finished run (baseline, promoted, staged, kept,
approved, rejected). ``alert_failed_run`` is the flow's on_failure hook: it names the step that
failed (the failed task run, or the flow body) and sends a validation-failure message when the
batch was refused. ``alert_crashed_run`` covers crashes the process survives; a killed process
is covered by the server-side automation in flows/automations.py. Hooks never raise.
"""

from __future__ import annotations

import logging
from typing import Any

from judgeflow.errors import ValidationFailedError
from tasks.alert import (
    SlackMessage,
    baseline_message,
    crashed_message,
    failed_message,
    kept_message,
    promoted_message,
    send_alert,
    validation_failed_message,
)
from tasks.artifacts import LockHeldError
from tasks.gate import Decision

logger = logging.getLogger("judgeflow.hooks")


def _staged_note(candidate: dict[str, Any], approval: dict[str, Any] | None) -> str:
    state = {True: "approved", False: "rejected", None: "awaiting approval"}[candidate.get("approved")]
    why = (approval or {}).get("reason") or (approval or {}).get("comment")
    by = (approval or {}).get("approver")
    return f" Staged as {candidate['version']}: {state}" + (f" by {by}" if by else "") + (f" ({why})" if why else "") + "."


def outcome_messages(week: str, decision: dict[str, Any], published: dict[str, Any], run_url: str | None) -> list[SlackMessage]:
    """What a finished run tells Slack: the baseline (first run) and the decision."""
    messages = []
    baseline = published.get("baseline")
    if baseline and not baseline.get("existing"):
        messages.append(baseline_message(week, baseline["version"], decision.get("champion") or {}, run_url))
    gate = Decision.model_validate(decision)
    candidate = published.get("candidate") or {}
    if candidate.get("status") == "staged":
        gate = gate.model_copy(update={"reason": gate.reason + _staged_note(candidate, published.get("approval"))})
    elif published.get("dry_run"):
        gate = gate.model_copy(update={"reason": gate.reason + " Dry run: nothing was published."})
    promoted = candidate.get("status") == "promoted" or candidate.get("approved") is True
    if promoted:
        messages.append(promoted_message(week, gate, candidate["version"], run_url))
    else:
        messages.append(kept_message(week, gate, published.get("champion_version"), run_url))
    return messages


def send_outcome(week: str, decision: dict[str, Any], published: dict[str, Any], run_url: str | None) -> list[dict[str, Any]]:
    """Send the outcome messages; a Slack outage is logged, never raised."""
    return [
        {"kind": m.kind, "delivered": send_alert(m), "text": m.text}
        for m in outcome_messages(week, decision, published, run_url)
    ]


# ---- hooks -----------------------------------------------------------------------------------


def _week_of(flow_run: Any) -> str:
    """The run's week parameter, or the default the flow resolved it to (rollback: none)."""
    week = (flow_run.parameters or {}).get("week")
    if week or "week" not in (flow_run.parameters or {}):
        return str(week or "n/a")
    from judgeflow.config import load_settings
    from judgeflow.weeks import last_complete_week

    return last_complete_week(load_settings().timezone)


def _run_url(flow_run: Any) -> str | None:
    from prefect.settings import PREFECT_UI_URL

    base = PREFECT_UI_URL.value()
    return f"{base}/flow-runs/flow-run/{flow_run.id}" if base else None


def failed_step(flow_run: Any) -> str:
    """The name of the task run that failed in this flow run, or "flow" when none did."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])),
            task_run_filter=TaskRunFilter(
                state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED]))
            ),
        )
    if not runs:
        return "flow"
    latest = max(runs, key=lambda r: r.end_time or r.start_time or r.expected_start_time)
    return latest.name.rsplit("-", 1)[0] if latest.name[-1:].isdigit() else latest.name


def _exception(state: Any) -> BaseException | str:
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # the result could not be read back: use the state message
        return f"{type(exc).__name__}: {state.message or ''}"
    return result if isinstance(result, BaseException) else (state.message or "unknown error")


def failure_message(week: str, step: str, error: BaseException | str, run_url: str | None) -> SlackMessage:
    """The validation message for a refused batch, else the failed-step message."""
    if isinstance(error, ValidationFailedError):
        return validation_failed_message(week, str(error), run_url)
    return failed_message(week, step, error, run_url)


def alert_failed_run(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure hook: name the failed step and the error (or the refused batch)."""
    try:
        week = _week_of(flow_run)
        error = _exception(state)
        try:
            step = "week lock" if isinstance(error, LockHeldError) else failed_step(flow_run)
        except Exception:  # the API is unreachable: still alert, without the step's name
            step = "unknown step"
        send_alert(failure_message(week, step, error, _run_url(flow_run)))
    except Exception as exc:  # a hook must never turn a failed run into a crashed one
        logger.warning("failure alert not sent: %s: %s", type(exc).__name__, str(exc)[:300])


def alert_crashed_run(flow: Any, flow_run: Any, state: Any) -> None:
    """on_crashed hook: the process survived the crash (interrupt, infrastructure error)."""
    try:
        week = _week_of(flow_run)
        send_alert(crashed_message(week, flow_run.name, _run_url(flow_run)))
    except Exception as exc:
        logger.warning("crash alert not sent: %s", type(exc).__name__)
