"""Running the weekly flow from the command line: once, or week after week (quickstart).

Task results (the resume cache) persist under settings.home/prefect-results, so a rerun of a
crashed or finished week from the CLI resumes like a deployment run does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flows.params import BudgetParams, LMParams
from judgeflow.config import Settings
from judgeflow.errors import JudgeflowError
from tasks.gate import GateThresholds


class RunFailedError(JudgeflowError):
    """The weekly flow ended in a failed state."""


@contextmanager
def prefect_context(settings: Settings, api_url: str | None = None) -> Iterator[None]:
    """Results persisted under home; the given API (else PREFECT_API_URL, else a temporary server)."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT,
        temporary_settings,
    )

    updates: dict[Any, Any] = {
        PREFECT_RESULTS_LOCAL_STORAGE_PATH: Path(settings.home).resolve() / "prefect-results",
        PREFECT_RESULTS_PERSIST_BY_DEFAULT: True,
    }
    if api_url:
        updates[PREFECT_API_URL] = api_url
    with temporary_settings(updates=updates):
        yield


def run_week(
    settings: Settings, week: str | None, *, optimizer: str = "library", data_dir: str | None = None,
    dry_run: bool = False, require_approval: bool = False, budget_calls: int = 300, judge_lm: LMParams | None = None,
    reflection_lm: LMParams | None = None, gate: GateThresholds | None = None, api_url: str | None = None,
) -> dict[str, Any]:
    """Run weekly_judge_refresh once in this process; raise RunFailedError naming the failure."""
    from flows.weekly import weekly_judge_refresh

    with prefect_context(settings, api_url):
        state = weekly_judge_refresh(
            week=week, optimizer=optimizer, data_dir=data_dir, dry_run=dry_run, require_approval=require_approval,
            budget=BudgetParams(max_calls=budget_calls), judge_lm=judge_lm or LMParams(),
            reflection_lm=reflection_lm or LMParams(), gate=gate or GateThresholds(), return_state=True,
        )
    if not state.is_completed():
        raise RunFailedError(f"the weekly run for {week or 'the last complete week'} failed: {state.message}")
    return state.result()


def summary_row(result: dict[str, Any]) -> dict[str, Any]:
    """One line of the quickstart table."""
    decision = result["decision"]
    champion, candidate = decision.get("champion") or {}, decision.get("candidate") or {}
    published = result["published"]
    return {
        "week": result["week"],
        "decision": "promoted" if decision["promote"] else "kept",
        "champion": published.get("champion_version"),
        "champion_nmse": champion.get("nmse"),
        "candidate_nmse": candidate.get("nmse"),
        "champion_parse": champion.get("parse_rate"),
        "candidate_parse": candidate.get("parse_rate"),
        "reason": decision["reason"],
    }


def _cell(value: Any, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{100 * value:.1f}%" if pct else f"{value:.2f}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The quickstart table: week, decision, champion and candidate NMSE and parse rate."""
    header = ["week", "decision", "champion", "champion NMSE", "candidate NMSE", "champion parse", "candidate parse"]
    lines = [
        [r["week"], r["decision"], _cell(r["champion"]), _cell(r["champion_nmse"]), _cell(r["candidate_nmse"]),
         _cell(r["champion_parse"], pct=True), _cell(r["candidate_parse"], pct=True)]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)
