"""GEPA: reflective instruction evolution with Dash-style feedback, behind the guardrails.

GEPA learns from the train split (reflective minibatches) and tracks its Pareto front on the
dev split. Every proposal passes :class:`GuardedProposer`: a violating instruction is
recorded as a rejection and the reflection LM is asked again; after the last attempt the
parent's instruction is returned unchanged, which GEPA scores as no improvement and moves on.
A stop callback ends the search when the call (or cost) budget is spent; GEPA then returns
the best candidate so far.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import dspy
from dspy.teleprompt.gepa.instruction_proposal import InstructionProposer

from judge.feedback import make_gepa_metric
from judge.guardrails import Guardrails, RejectionLog
from tasks.optimizers.context import SearchContext, SearchOutcome
from tasks.optimizers.data import as_judge, as_optimizable, to_dspy

logger = logging.getLogger(__name__)


class GuardedProposer(InstructionProposer):
    """GEPA's default proposer, with every proposal checked by the guardrails."""

    def __init__(self, guardrails: Guardrails, rejections: RejectionLog, *, attempts: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        self.guardrails = guardrails
        self.rejections = rejections
        self.attempts = max(1, attempts)
        self.accepted: list[str] = []

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        results: dict[str, str] = {}
        for name in components_to_update:
            kept = candidate.get(name)
            for _ in range(self.attempts):
                proposed = super().__call__(candidate, reflective_dataset, [name]).get(name)
                if proposed is None:
                    break
                violations = self.guardrails.check_instruction(proposed)
                if not violations:
                    kept = proposed
                    self.accepted.append(proposed)
                    break
                self.rejections.record("gepa", proposed, violations)
                logger.info("GEPA proposal rejected by guardrails: %s", [v.rule for v in violations])
            if kept is not None:
                results[name] = kept
        return results


def run_gepa(ctx: SearchContext) -> SearchOutcome:
    """Optimize the champion's instruction with dspy.GEPA; return the best program found."""
    s = ctx.settings
    student = as_optimizable(ctx.champion)
    train, dev = to_dspy(ctx.train.examples, "train"), to_dspy(ctx.dev.examples, "dev")
    proposer = GuardedProposer(ctx.guardrails, ctx.rejections, attempts=s.gepa_proposal_attempts)
    # One metric call is one judge call; keep a share of the budget for reflection calls.
    max_metric_calls = s.gepa_max_metric_calls or max(len(dev) + 1, int(s.budget_calls * 0.85))
    optimizer = dspy.GEPA(
        metric=make_gepa_metric(ctx.scale),
        max_metric_calls=max_metric_calls,
        reflection_lm=ctx.reflection_lm,
        instruction_proposer=proposer,
        reflection_minibatch_size=s.gepa_minibatch,
        candidate_selection_strategy="pareto",
        use_merge=False,  # one predictor: merging has nothing to combine
        num_threads=s.num_threads,
        failure_score=0.0,
        perfect_score=1.0,
        add_format_failure_as_feedback=True,
        seed=s.seed,
        track_stats=True,
        warn_on_score_mismatch=False,
        gepa_kwargs={"stop_callbacks": [lambda _state: ctx.over_budget()]},
    )
    with dspy.context(lm=ctx.judge_lm):
        optimized = optimizer.compile(student, trainset=train, valset=dev)
    details: dict[str, Any] = {"max_metric_calls": max_metric_calls, "proposals_accepted": len(proposer.accepted)}
    stats = getattr(optimized, "detailed_results", None)
    if stats is not None:
        details["candidates"] = len(stats.candidates)
        details["val_aggregate_scores"] = [round(float(x), 4) for x in stats.val_aggregate_scores]
        details["best_idx"] = stats.best_idx
        details["total_metric_calls"] = stats.total_metric_calls
    return SearchOutcome(
        program=as_judge(optimized, ctx.champion),
        stopped="budget" if ctx.over_budget() else "done",
        details=details,
    )
