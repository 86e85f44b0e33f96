"""Optimize: propose a candidate judge from the train split, selected on dev, within a budget.

``optimize_program`` is the one entry every optimizer goes through. It refuses test data
(tasks.optimizers.data.check_split_sets), runs the search with budgeted LMs (judge and
reflection share one CallBudget), puts the result through the guardrails, scores champion
and candidate on dev, and writes the candidate as state-only DSPy JSON with a manifest and a
disagreement report under ``<home>/candidates/<week>-<optimizer>-<hash8>/``. It never promotes:
the gate decides on the test split later. ``optimize_week`` loads everything from the store
for the CLI and the flow; ``optimize_task`` is its Prefect task.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from judge.disagreements import build_report
from judge.guardrails import Guardrails, RejectionLog
from judge.lm import CallBudget, build_lm, lm_identity, usage_by_role
from judge.program import RelevanceJudge
from judge.saving import program_hash, save_program
from judgeflow.config import LMConfig, Settings
from judgeflow.weeks import parse_week
from tasks.optimizers.context import OptimizeSettings, SearchContext, SearchOutcome
from tasks.optimizers.data import SplitSet, check_split_sets, load_split, test_query_keys

METRIC_KEYS = ("n", "nmse", "parse_rate", "mae", "exact", "within1", "kappa", "qwk")


@dataclass
class OptimizeResult:
    """A candidate and everything the weekly flow and the report need about it."""

    optimizer: str
    week: str
    candidate: RelevanceJudge
    candidate_hash: str
    champion_hash: str
    dev_before: dict[str, Any]
    dev_after: dict[str, Any]
    stopped: str
    calls: dict[str, Any]
    rejections: list[dict[str, Any]] = field(default_factory=list)
    chosen_bullets: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the candidate folder
    disagreements_md: str = ""

    @property
    def program_path(self) -> Path | None:
        return self.path / "program.json" if self.path else None

    @property
    def changed(self) -> bool:
        return self.candidate_hash != self.champion_hash

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "week": self.week,
            "candidate_hash": self.candidate_hash,
            "champion_hash": self.champion_hash,
            "changed": self.changed,
            "path": str(self.path) if self.path else None,
            "program_path": str(self.program_path) if self.program_path else None,
            "dev_before": self.dev_before,
            "dev_after": self.dev_after,
            "stopped": self.stopped,
            "calls": self.calls,
            "guardrail_rejections": len(self.rejections),
            "chosen_bullets": self.chosen_bullets,
        }


def _pick(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics.get(k) for k in METRIC_KEYS if k in metrics}


def _usage_delta(before: dict[str, dict], after: dict[str, dict]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for role, now in after.items():
        was = before.get(role, {})
        delta = {}
        for key in ("calls", "failed_calls", "prompt_tokens", "completion_tokens", "cost"):
            a, b = now.get(key), was.get(key, 0)
            delta[key] = None if a is None or b is None else round(a - b, 6) if key == "cost" else a - b
        if delta["calls"]:
            out[role] = delta
    return out


def _ids_digest(split_set: SplitSet) -> str:
    """sha256 of the sorted example ids joined by newlines (as tasks.split.split_snapshot)."""
    return hashlib.sha256("\n".join(sorted(e.id for e in split_set.examples)).encode()).hexdigest()


def _cost(usage: dict[str, dict[str, Any]]) -> float | None:
    """Summed cost over roles; None when any role's price is unknown."""
    costs = [r.get("cost") for r in usage.values()]
    return None if any(c is None for c in costs) else float(sum(costs))


def instruction_diff(champion: str, candidate: str) -> str:
    """A readable unified diff of the candidate's instruction against the champion's."""
    lines = difflib.unified_diff(
        champion.splitlines(), candidate.splitlines(), "champion", "candidate", lineterm="", n=1
    )
    return "\n".join(lines) or "(instruction unchanged)"


def _run_search(ctx: SearchContext) -> SearchOutcome:
    from tasks.optimizers.fewshot import run_bootstrap, run_mipro
    from tasks.optimizers.gepa import run_gepa
    from tasks.optimizers.library import run_library

    runner = {"gepa": run_gepa, "mipro": run_mipro, "bootstrap": run_bootstrap, "library": run_library}
    return runner[ctx.settings.optimizer](ctx)


def optimize_program(
    champion: RelevanceJudge,
    *,
    trainset: SplitSet,
    valset: SplitSet,
    test_keys: Collection[str],
    settings: OptimizeSettings,
    judge_cfg: LMConfig,
    reflection_cfg: LMConfig,
    con: duckdb.DuckDBPyConnection,
    home: str | Path | None = None,
    snapshot: dict[str, Any] | None = None,
) -> OptimizeResult:
    """Search for a better judge than ``champion``; save it under ``home`` when given. Never promotes."""
    from tasks.evaluate import evaluate_program

    check_split_sets(trainset, valset, test_keys)
    week = parse_week(trainset.week)
    scale = champion.scale
    dev = list(valset.examples)
    budget = CallBudget(settings.budget_calls)
    judge_lm = build_lm(judge_cfg, role="judge", budget=budget)
    reflection_lm = build_lm(reflection_cfg, role="reflection", budget=budget)
    free_lm = build_lm(judge_cfg, role="judge")  # before/after scoring on dev, outside the search budget

    def evaluate(program: RelevanceJudge, label: str, lm: Any) -> Any:
        return evaluate_program(
            program, dev, judge_cfg, scale=scale, con=con, split="dev", week=week, progress=False,
            label=label, lm=lm,
        )

    before = evaluate(champion, "champion", free_lm)
    rejections = RejectionLog()
    rails = Guardrails.for_data(
        [*trainset.examples, *valset.examples], scale, champion_instruction=champion.instruction,
        min_words=settings.min_verbatim_words,
    )
    start_usage = usage_by_role()

    def cost_spent() -> float | None:
        return _cost(_usage_delta(start_usage, usage_by_role()))

    ctx = SearchContext(
        champion=champion, scale=scale, train=trainset, dev=valset, judge_lm=judge_lm,
        reflection_lm=reflection_lm, budget=budget, guardrails=rails, rejections=rejections,
        settings=settings, dev_nmse=lambda p: float(evaluate(p, "trial", judge_lm).metrics["nmse"]),
        cost_spent=cost_spent,
    )
    outcome = _run_search(ctx)
    search_usage = _usage_delta(start_usage, usage_by_role())
    candidate, stopped = outcome.program, outcome.stopped
    violations = rails.check_program(candidate, champion)
    if violations:  # whatever slipped past the search's own checks
        rejections.record(f"{settings.optimizer}-final", candidate.instruction, violations)
        candidate, stopped = champion.deepcopy(), "rejected"
    after = evaluate(candidate, "candidate", free_lm)
    report = build_report(dev, after.outputs, scale, top=20)
    calls = {
        "budget": settings.budget_calls,
        "budget_cost_usd": settings.budget_cost,
        "used": budget.used,
        "by_role": search_usage,
        "cost_usd": _cost(search_usage),
        "dev_evaluation_calls": before.calls + after.calls,
    }
    result = OptimizeResult(
        optimizer=settings.optimizer, week=week, candidate=candidate, candidate_hash=program_hash(candidate),
        champion_hash=program_hash(champion), dev_before=_pick(before.metrics), dev_after=_pick(after.metrics),
        stopped=stopped, calls=calls, rejections=rejections.to_list(),
        chosen_bullets=outcome.chosen_bullets if stopped != "rejected" else [],
        disagreements_md=report.to_markdown("Dev disagreements of the candidate"),
    )
    result.manifest = _manifest(result, settings, champion, judge_cfg, reflection_cfg, trainset, valset, snapshot,
                                outcome, rejections)
    if home is not None:
        result.path = save_candidate(result, Path(home))
    return result


def _manifest(
    result: OptimizeResult, settings: OptimizeSettings, champion: RelevanceJudge, judge_cfg: LMConfig,
    reflection_cfg: LMConfig, trainset: SplitSet, valset: SplitSet, snapshot: dict[str, Any] | None,
    outcome: SearchOutcome, rejections: RejectionLog,
) -> dict[str, Any]:
    library = {k: outcome.details[k] for k in ("catalogue", "catalogue_version", "rule_versions") if k in outcome.details}
    return {
        "kind": "judgeflow-candidate",
        "promoted": False,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "week": result.week,
        "optimizer": settings.optimizer,
        "settings": asdict(settings),
        "seed": settings.seed,
        "scale": str(champion.scale),
        "lms": {"judge": json.loads(lm_identity(judge_cfg)), "reflection": json.loads(lm_identity(reflection_cfg))},
        "data": {
            "snapshot": snapshot,
            "train_rows": len(trainset),
            "dev_rows": len(valset),
            "train_ids_sha256": _ids_digest(trainset),
            "dev_ids_sha256": _ids_digest(valset),
        },
        "library": library or None,
        "calls": result.calls,
        "dev_before": result.dev_before,
        "dev_after": result.dev_after,
        "champion_hash": result.champion_hash,
        "candidate_hash": result.candidate_hash,
        "instruction_diff": instruction_diff(champion.instruction, result.candidate.instruction),
        "demos": len(result.candidate.predictor.demos),
        "guardrail_rejections": {"count": rejections.count, "by_rule": rejections.by_rule(), "entries": rejections.to_list()},
        "chosen_bullets": result.chosen_bullets,
        "stopped": result.stopped,
        "details": outcome.details,
    }


def save_candidate(result: OptimizeResult, home: Path) -> Path:
    """Write program.json, manifest.json and disagreements.md; return the folder."""
    folder = home / "candidates" / f"{result.week}-{result.optimizer}-{result.candidate_hash[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    save_program(result.candidate, folder / "program.json")
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(result.manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")
    (folder / "disagreements.md").write_text(result.disagreements_md, encoding="utf-8")
    return folder


def optimize_week(
    settings: Settings,
    week: str,
    optimize: OptimizeSettings,
    *,
    champion: RelevanceJudge | None = None,
    judge_cfg: LMConfig | None = None,
    reflection_cfg: LMConfig | None = None,
) -> OptimizeResult:
    """Load the week's train/dev splits from the store and optimize ``champion`` (default: baseline)."""
    from judge.local_model import with_local_endpoint
    from judgeflow.store import open_store
    from tasks.split import split_snapshot

    week = parse_week(week)
    champion = champion or RelevanceJudge(scale=settings.scale)
    judge_cfg = with_local_endpoint(settings, judge_cfg or settings.judge_lm)
    reflection_cfg = with_local_endpoint(settings, reflection_cfg or settings.reflection_lm)
    with open_store(settings.database) as con:
        return optimize_program(
            champion,
            trainset=load_split(con, "train", week),
            valset=load_split(con, "dev", week),
            test_keys=test_query_keys(con, week),
            settings=optimize,
            judge_cfg=judge_cfg,
            reflection_cfg=reflection_cfg,
            con=con,
            home=settings.home,
            snapshot=split_snapshot(con, week),
        )


@task(name="optimize-candidate", cache_policy=NO_CACHE)
def optimize_task(settings: Settings, week: str, optimize: OptimizeSettings) -> dict[str, Any]:
    """Propose a candidate judge for the week (train to learn, dev to select, never test)."""
    return optimize_week(settings, week, optimize).to_dict()
