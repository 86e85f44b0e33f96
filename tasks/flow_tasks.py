"""The Prefect tasks the weekly flow calls: one per pipeline step, thin over the step modules.

The logic lives in the step modules (tasks/ingest.py, tasks/evaluate.py, ...); these wrappers
add what orchestration needs and nothing else: paths instead of DuckDB connections (a
connection cannot be hashed, and one writer per file means each task opens and closes its
own), JSON-able results persisted to result storage, retries only for transient LM failures,
timeouts, and cache keys built from what the work depends on (week, data snapshot, program
sha256, LM identity) so a rerun of a crashed or finished week resumes instead of paying for
the LM work again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from flows.params import BudgetParams
from judgeflow.config import Settings
from judgeflow.weeks import parse_week
from tasks import steps
from tasks.evaluation.retry import is_retryable
from tasks.gate import GateThresholds

TRANSIENT_RETRIES = {"retries": 2, "retry_delay_seconds": [1, 4], "retry_jitter_factor": 0.5}


def retry_on_transient_lm_error(task, task_run, state) -> bool:
    """Retry a task only when it failed on a transient LM error (429, 5xx, timeout, connection)."""
    try:
        state.result()
    except Exception as exc:
        return _is_transient(exc)
    return False


def _is_transient(exc: BaseException) -> bool:
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        if type(item).__name__ == "LMErrorRateExceeded" or is_retryable(item):
            return True
        item = item.__cause__ or item.__context__
    return False


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evaluation_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same program bytes, LM identity, week, split contents and store -> same predictions."""
    settings: Settings = parameters["settings"]
    program = parameters["program"]
    return "evaluate-" + _digest(
        program.get("sha256"),
        settings.judge_lm.identity(),
        str(settings.scale),
        parameters["snapshot"],
        parameters.get("split", "test"),
        str(Path(settings.database).resolve()),
    )


def optimization_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same champion, training data, optimizer settings and LMs -> same candidate."""
    settings: Settings = parameters["settings"]
    budget: BudgetParams = parameters["budget"]
    return "optimize-" + _digest(
        parameters["champion"].get("sha256"),
        parameters["snapshot"],
        parameters["optimizer"],
        budget.model_dump(),
        settings.judge_lm.identity(),
        settings.reflection_lm.identity(),
        str(settings.scale),
        str(Path(settings.database).resolve()),
        str(Path(settings.artifacts)),
    )


def run_dir(settings: Settings, week: str) -> Path:
    """Scratch folder of one week's run (working copies of programs)."""
    path = Path(settings.home) / "runs" / parse_week(week)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- ingest, validate, split ----------------------------------------------------------------
# Not cached by Prefect: ingest is idempotent by file sha256 in its own ledger, and these
# steps are cheap next to the LM work.


@task(name="ingest", timeout_seconds=3600, cache_policy=NO_CACHE)
def ingest(settings: Settings, week: str, data_dir: str | None) -> dict[str, Any]:
    """Load the week's annotation and production files into the store (idempotent by sha256)."""
    from tasks.ingest import ingest_week

    files = steps.week_files(settings, week, data_dir)
    summary = ingest_week(
        settings.database, week, annotations=files["annotations"], production=files["production"], settings=settings
    )
    return {**summary, "files": {k: v and {"path": v, "sha256": file_sha256(v)} for k, v in files.items()}}


@task(name="validate", timeout_seconds=600, cache_policy=NO_CACHE)
def validate(ingested: dict[str, Any]) -> dict[str, Any]:
    """Report the week's Great Expectations results and quarantine counts (ingest refused bad batches)."""
    from prefect.artifacts import create_table_artifact

    summary = steps.validation_summary(ingested)
    rows = [{"source": source, **{k: v for k, v in counts.items() if k != "reasons"}, "reasons": json.dumps(counts["reasons"])}
            for source, counts in summary["sources"].items()]
    if rows:
        create_table_artifact(key="validation", table=rows, description=f"Validation of {summary['week']}")
    return summary


@task(name="split", timeout_seconds=600, cache_policy=NO_CACHE)
def split(settings: Settings, week: str) -> dict[str, Any]:
    """Assign sticky splits to new queries and return the week's data snapshot."""
    from judgeflow.store import open_store
    from tasks.split import assign_splits, split_snapshot

    with open_store(settings.database) as con:
        assign_splits(con, week, settings.split_ratios)
        snapshot = split_snapshot(con, week)
        # Ids alone miss a corrected rating or text: the cache keys also cover the content.
        snapshot["content_sha256"] = steps.examples_digest(con, week)
    return snapshot


# ---- champion, evaluate, optimize, guardrails ----------------------------------------------


@task(name="load-champion", timeout_seconds=300, cache_policy=NO_CACHE)
def load_champion(settings: Settings, week: str) -> dict[str, Any]:
    """The week's champion program, or the hand-written baseline when nothing is published."""
    return steps.champion_program(settings, week, run_dir(settings, week))


@task(
    name="evaluate",
    task_run_name="evaluate-{role}",
    timeout_seconds=4 * 3600,
    retry_condition_fn=retry_on_transient_lm_error,
    cache_key_fn=evaluation_cache_key,
    cache_expiration=timedelta(days=30),
    persist_result=True,
    **TRANSIENT_RETRIES,
)
def evaluate(settings: Settings, week: str, program: dict[str, Any], snapshot: dict[str, Any], role: str) -> dict[str, Any]:
    """Score one program on the week's test split with the judge LM; predictions are stored."""
    return steps.evaluate_program_file(settings, week, program, split="test", role=role)


@task(
    name="optimize",
    timeout_seconds=8 * 3600,
    retry_condition_fn=retry_on_transient_lm_error,
    cache_key_fn=optimization_cache_key,
    cache_expiration=timedelta(days=30),
    persist_result=True,
    **TRANSIENT_RETRIES,
)
def optimize(
    settings: Settings, week: str, champion: dict[str, Any], snapshot: dict[str, Any], optimizer: str, budget: BudgetParams
) -> dict[str, Any]:
    """Propose a candidate from the train split (dev for selection), within the call budget."""
    return steps.optimize_candidate(
        settings, week, champion, optimizer, budget.max_calls, budget.max_cost_usd, budget.seed
    )


@task(name="check-guardrails", timeout_seconds=600, cache_policy=NO_CACHE)
def check_guardrails(settings: Settings, week: str, champion: dict[str, Any], candidate: dict[str, Any]) -> dict[str, Any]:
    """Reject a candidate that leaks train/dev data or changes the scale or the fields."""
    return steps.guardrail_verdict(settings, week, champion, candidate)


# ---- gate, report, publish, alert ----------------------------------------------------------


@task(name="gate", timeout_seconds=600, cache_policy=NO_CACHE)
def gate(
    settings: Settings, champion_eval: dict[str, Any], candidate_eval: dict[str, Any], guardrails: dict[str, Any],
    thresholds: GateThresholds,
) -> dict[str, Any]:
    """Promote or keep, from both programs' predictions on the same test examples."""
    return steps.gate_decision(settings.scale, champion_eval, candidate_eval, guardrails, thresholds)


@task(name="write-report", timeout_seconds=300, cache_policy=NO_CACHE)
def write_report(
    week: str, champion: dict[str, Any], proposal: dict[str, Any], decision: dict[str, Any],
    champion_eval: dict[str, Any], candidate_eval: dict[str, Any],
) -> str:
    """The markdown report: metrics, confusion matrices, checks, bullets, diff, disagreements."""
    from flows.report import build_report

    return build_report(
        week, champion=champion, candidate=proposal["candidate"], decision=decision,
        champion_eval=champion_eval, candidate_eval=candidate_eval, optimization=proposal["optimization"],
    )


@task(name="publish", timeout_seconds=600, cache_policy=NO_CACHE)
def publish(
    settings: Settings, week: str, champion: dict[str, Any], proposal: dict[str, Any], decision: dict[str, Any],
    champion_eval: dict[str, Any], candidate_eval: dict[str, Any], snapshot: dict[str, Any], report_md: str,
    dry_run: bool, require_approval: bool,
) -> dict[str, Any]:
    """Publish the baseline (first run) and the candidate; leave the report and link artifacts."""
    from prefect.runtime import flow_run

    from flows.publishing import publish_outcome
    from flows.report import publish_artifacts

    published = publish_outcome(
        settings, week, champion=champion, candidate=proposal["candidate"], decision=decision,
        champion_eval=champion_eval, candidate_eval=candidate_eval, snapshot=snapshot,
        optimization=proposal["optimization"], report_md=report_md, dry_run=dry_run,
        require_approval=require_approval, run_id=flow_run.id,
    )
    publish_artifacts(week, report_md, published)
    return published


@task(name="settle-approval", timeout_seconds=300, cache_policy=NO_CACHE)
def settle_approval(settings: Settings, week: str, published: dict[str, Any], approval: dict[str, Any] | None) -> dict[str, Any]:
    """Champion the approved staged version, or record its rejection."""
    from flows.publishing import settle_staged

    return settle_staged(settings, week, published, approval)


@task(name="alert", timeout_seconds=120, cache_policy=NO_CACHE)
def alert(week: str, decision: dict[str, Any], published: dict[str, Any]) -> list[dict[str, Any]]:
    """Tell Slack what the week decided; a Slack outage is logged, never raised."""
    from prefect.runtime import flow_run

    from flows.hooks import send_outcome

    return send_outcome(week, decision, published, flow_run.get_flow_run_ui_url())


# ---- rollback --------------------------------------------------------------------------------


@task(name="rollback-champion", timeout_seconds=120, cache_policy=NO_CACHE)
def rollback_champion(settings: Settings, to_version: str | None, reason: str) -> dict[str, Any]:
    """Move the champion pointer back (default: to the champion before the current one)."""
    from tasks.artifacts import ArtifactStore
    from tasks.champion import read_pointer, rollback

    store = ArtifactStore(settings.artifacts)
    before = read_pointer(store)
    info = rollback(store, to=to_version, reason=reason)
    return {"from": before["version"] if before else None, "reason": reason, **info.model_dump(mode="json")}


@task(name="alert-rollback", timeout_seconds=120, cache_policy=NO_CACHE)
def alert_rollback(moved: dict[str, Any]) -> bool:
    """Tell Slack the champion was rolled back; a Slack outage is logged, never raised."""
    from prefect.runtime import flow_run

    from tasks.alert import rollback_message, send_alert

    message = rollback_message(
        moved["from"], moved["version"], moved["reason"], week=moved["week"], nmse=moved.get("nmse"),
        parse_rate=moved.get("parse_rate"), run_url=flow_run.get_flow_run_ui_url(),
    )
    return send_alert(message)
