"""The rollback flow: put an earlier published version back in charge, and say so on Slack."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import alert_crashed_run, alert_failed_run
from judgeflow.config import load_settings
from tasks import flow_tasks as step


@flow(
    name="rollback-judge",
    description="Move the champion pointer back to an earlier published version and alert.",
    on_failure=[alert_failed_run],
    on_crashed=[alert_crashed_run],
)
def rollback_judge(to_version: str | None = None, reason: str = "rollback requested from the Prefect UI") -> dict[str, Any]:
    """Roll the champion back.

    Args:
        to_version: the version to restore, e.g. v0003; empty = the champion before the current one.
        reason: why, in a sentence (kept in the history and the alert).
    """
    moved = step.rollback_champion(load_settings(), to_version, reason)
    step.alert_rollback(moved)
    return moved
