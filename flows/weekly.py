"""The weekly flow: keep the judge aligned with last week's human ratings.

ingest -> validate -> split -> evaluate champion -> optimize -> check guardrails -> evaluate
candidate -> gate -> report -> publish (-> approval) -> alert. Each step is a task in
tasks/flow_tasks.py with its retries, timeout and cache; this module only wires them.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.approval import await_approval
from flows.hooks import alert_crashed_run, alert_failed_run
from flows.params import BudgetParams, LMParams, Optimizer, apply_lm_params
from judgeflow.config import Settings, load_settings
from judgeflow.weeks import last_complete_week, parse_week
from tasks import flow_tasks as step
from tasks.gate import GateThresholds
from tasks.steps import week_claim


def run_settings(judge_lm: LMParams, reflection_lm: LMParams) -> Settings:
    """Project settings with the run form's LM choices laid over them."""
    return apply_lm_params(load_settings(), judge_lm, reflection_lm)


def resolve_week(week: str | None, settings: Settings) -> str:
    """The given ISO week, or the last complete one in the configured timezone."""
    return parse_week(week) if week else last_complete_week(settings.timezone)


@flow(
    name="weekly-judge-refresh",
    description="Align the LLM judge with last week's human ratings and publish it if it is better.",
    on_failure=[alert_failed_run],
    on_crashed=[alert_crashed_run],
    log_prints=True,
)
def weekly_judge_refresh(
    week: str | None = None,
    optimizer: Optimizer = "library",
    judge_lm: LMParams = LMParams(),  # noqa: B008 - Prefect reads defaults to render the form
    reflection_lm: LMParams = LMParams(),  # noqa: B008
    budget: BudgetParams = BudgetParams(),  # noqa: B008
    gate: GateThresholds = GateThresholds(),  # noqa: B008
    dry_run: bool = False,
    require_approval: bool = False,
    approval_timeout_s: int = 86400,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Run one week: ingest, validate, split, evaluate, optimize, gate, publish and alert.

    Args:
        week: ISO week such as 2026-W47; empty = the last complete week.
        optimizer: library (append catalogue bullets), bootstrap, mipro or gepa.
        judge_lm: the judge LM; empty fields keep judgeflow.toml's.
        reflection_lm: the LM optimizers use to propose instructions.
        budget: hard caps on the optimizer's LM calls and cost.
        gate: promotion thresholds.
        dry_run: do everything except publish.
        require_approval: stage a promoted candidate and wait for a human in the UI.
        approval_timeout_s: seconds to wait for approval; no answer rejects.
        data_dir: folder of <week>/annotations.* and production.*; empty = .judgeflow/inbox.
    """
    settings = run_settings(judge_lm, reflection_lm)
    week = resolve_week(week, settings)
    with week_claim(settings, week, run_id=str(flow_run.id)):
        ingested = step.ingest(settings, week, data_dir)
        step.validate(ingested)
        snapshot = step.split(settings, week)
        champion = step.load_champion(settings, week)
        champion_eval = step.evaluate(settings, week, champion, snapshot, role="champion")
        proposal = step.optimize(settings, week, champion, snapshot, optimizer, budget)
        guardrails = step.check_guardrails(settings, week, champion, proposal["candidate"])
        candidate_eval = step.evaluate(settings, week, proposal["candidate"], snapshot, role="candidate")
        decision = step.gate(settings, champion_eval, candidate_eval, guardrails, gate)
        report_md = step.write_report(week, champion, proposal, decision, champion_eval, candidate_eval)
        published = step.publish(
            settings, week, champion, proposal, decision, champion_eval, candidate_eval, snapshot, report_md,
            dry_run, require_approval,
        )
        approval = await_approval(published, approval_timeout_s)
        published = step.settle_approval(settings, week, published, approval)
    alerts = step.alert(week, decision, published)
    return {
        "week": week,
        "decision": decision,
        "published": published,
        "champion": {"version": champion["version"], "metrics": champion_eval["metrics"]},
        "candidate": {"sha256": proposal["candidate"]["sha256"], "metrics": candidate_eval["metrics"]},
        "alerts": alerts,
    }
