"""Human approval of a staged candidate: the flow pauses and the Prefect UI shows a form.

The reviewer answers from the paused run's page (Resume -> the ApprovalInput form); an
answer never given within the timeout counts as a rejection, so a forgotten run cannot
leave a candidate half-approved.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field


class ApprovalInput(RunInput):
    """The reviewer's answer about one staged candidate."""

    approved: bool = Field(description="Make the staged candidate the champion?")
    approver: str = Field("", description="Who decided (shown in the history and the alert)")
    comment: str = Field("", description="Why, in a sentence")


def _resume_after_timeout() -> None:
    """Put the run back to Running: the server fails a run whose pause expired, but a timeout
    here is a decision (reject), and the run still has to record it and alert."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Running(message="approval timed out: rejected"), force=True)


def needs_approval(published: dict[str, Any]) -> bool:
    """True when this run staged a candidate nobody has answered for yet."""
    staged = published.get("candidate") or {}
    return staged.get("status") == "staged" and staged.get("approved") is None


def await_approval(published: dict[str, Any], timeout_s: int, poll_interval_s: int = 2) -> dict[str, Any] | None:
    """Pause the flow until a reviewer answers in the UI; a timeout is a rejection.

    Returns None when nothing awaits approval (no staged candidate, or answered before).
    """
    if not needs_approval(published):
        return None
    version = published["candidate"]["version"]
    logger = get_run_logger()
    logger.info("Candidate %s is staged; waiting up to %s s for approval in the Prefect UI", version, timeout_s)
    try:
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(
                description=f"Approve candidate {version} as the new champion?", approved=False
            ),
            timeout=timeout_s,
            poll_interval=poll_interval_s,
            key=f"approve-{version}",
        )
    except FlowPauseTimeout:
        _resume_after_timeout()
        return {"approved": False, "approver": "", "comment": "", "reason": f"no answer within {timeout_s} s: rejected by timeout"}
    return {"approved": bool(answer.approved), "approver": answer.approver, "comment": answer.comment}
