"""BootstrapFewShot and MIPROv2: demos that earned their place, instructions behind guardrails.

A bootstrapped demo is kept only when its rating is within ``tolerance`` of gold
(``metric_threshold``), so a wrong or unparseable answer never teaches the judge. MIPROv2's
instruction candidates are filtered by the guardrails before its search: a violating
proposal is recorded as a rejection and dropped, and the search goes on with the rest (the
champion's own instruction is always candidate 0).
"""

from __future__ import annotations

import logging
from typing import Any

import dspy

from judge.feedback import make_score_metric, tolerance_threshold
from judge.guardrails import Guardrails, RejectionLog
from judge.lm import BudgetExhausted
from tasks.optimizers.context import SearchContext, SearchOutcome
from tasks.optimizers.data import as_judge, as_optimizable, to_dspy

logger = logging.getLogger(__name__)


def render_labeled_demos(program: Any) -> None:
    """Show labeled demos (raw train rows) to the LM exactly as forward renders its inputs.

    Bootstrapped demos come from traces and are rendered already (``augmented``); labeled ones
    would otherwise carry the raw, undelimited, untruncated document into the prompt.
    """
    predictor = program.predictor
    for i, demo in enumerate(predictor.demos):
        if demo.get("augmented"):
            continue
        rendered = program.inputs(
            demo.get("query", ""),
            demo.get("document", ""),
            demo.get("title", ""),
            demo.get("doc_type", ""),
            demo.get("modified_at", ""),
        )
        predictor.demos[i] = demo.copy(**rendered)


def run_bootstrap(ctx: SearchContext) -> SearchOutcome:
    """dspy.BootstrapFewShot on train with a tolerance threshold; instructions untouched."""
    s = ctx.settings
    threshold = tolerance_threshold(s.tolerance, ctx.scale)
    optimizer = dspy.BootstrapFewShot(
        metric=make_score_metric(ctx.scale),
        metric_threshold=threshold,
        max_bootstrapped_demos=s.max_bootstrapped_demos,
        max_labeled_demos=s.max_labeled_demos,
        max_rounds=1,
        max_errors=len(ctx.train) + 1,
    )
    train = to_dspy(ctx.train.examples, "train")
    try:
        with dspy.context(lm=ctx.judge_lm):
            optimized = optimizer.compile(as_optimizable(ctx.champion), trainset=train)
    except BudgetExhausted:
        return SearchOutcome(ctx.champion.deepcopy(), "budget", {"metric_threshold": threshold, "demos": 0})
    program = as_judge(optimized, ctx.champion)
    render_labeled_demos(program)
    return SearchOutcome(
        program,
        "budget" if ctx.over_budget() else "done",
        {"metric_threshold": threshold, "demos": len(program.predictor.demos)},
    )


class GuardedMIPROv2(dspy.MIPROv2):
    """MIPROv2 whose proposed instructions pass the guardrails before any trial uses them."""

    def __init__(self, *args: Any, guardrails: Guardrails, rejections: RejectionLog, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guardrails = guardrails
        self.rejections = rejections

    def _propose_instructions(self, program: Any, *args: Any, **kwargs: Any) -> dict[int, list[str]]:
        candidates = super()._propose_instructions(program, *args, **kwargs)
        for index, texts in candidates.items():
            kept = texts[:1]  # the champion's instruction
            for text in texts[1:]:
                violations = self.guardrails.check_instruction(text)
                if violations:
                    self.rejections.record("mipro", text, violations)
                else:
                    kept.append(text)
            candidates[index] = kept
        return candidates


def run_mipro(ctx: SearchContext) -> SearchOutcome:
    """dspy.MIPROv2 (auto light/medium/heavy): instructions and demos, selected on dev."""
    s = ctx.settings
    threshold = tolerance_threshold(s.tolerance, ctx.scale)
    optimizer = GuardedMIPROv2(
        metric=make_score_metric(ctx.scale),
        prompt_model=ctx.reflection_lm,
        task_model=ctx.judge_lm,
        auto=s.mipro_auto,
        max_bootstrapped_demos=s.max_bootstrapped_demos,
        max_labeled_demos=s.max_labeled_demos,
        num_threads=s.num_threads,
        seed=s.seed,
        metric_threshold=threshold,
        verbose=False,
        guardrails=ctx.guardrails,
        rejections=ctx.rejections,
    )
    train, dev = to_dspy(ctx.train.examples, "train"), to_dspy(ctx.dev.examples, "dev")
    try:
        with dspy.context(lm=ctx.judge_lm):
            optimized = optimizer.compile(
                as_optimizable(ctx.champion), trainset=train, valset=dev,
                minibatch=len(dev) > 35, minibatch_size=min(35, len(dev)),
            )
    except BudgetExhausted:
        return SearchOutcome(ctx.champion.deepcopy(), "budget", {"auto": s.mipro_auto})
    details: dict[str, Any] = {"auto": s.mipro_auto, "metric_threshold": threshold}
    score = getattr(optimized, "score", None)
    if score is not None:
        details["best_dev_score"] = float(score)
    return SearchOutcome(as_judge(optimized, ctx.champion), "budget" if ctx.over_budget() else "done", details)
