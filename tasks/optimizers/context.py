"""What every optimizer run shares: settings, data, budgeted LMs, guardrails, rejections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from judge.guardrails import DEFAULT_MIN_WORDS, Guardrails, RejectionLog
from judge.lm import CallBudget
from judge.program import RelevanceJudge
from judge.scale import Scale
from judgeflow.errors import InputError
from tasks.optimizers.data import SplitSet

OPTIMIZERS = ("gepa", "mipro", "bootstrap", "library")
Stopped = Literal["done", "budget", "no_gain", "max_rules", "exhausted"]


@dataclass(frozen=True)
class OptimizeSettings:
    """Knobs of one optimization; all of them land in the manifest."""

    optimizer: str
    budget_calls: int = 300
    budget_cost: float | None = None  # USD, checked between steps where the price is known
    seed: int = 0
    min_verbatim_words: int = DEFAULT_MIN_WORDS
    num_threads: int = 4
    # GEPA
    gepa_max_metric_calls: int | None = None  # default: what the call budget leaves after reflection
    gepa_minibatch: int = 3
    gepa_proposal_attempts: int = 2
    # MIPROv2
    mipro_auto: str = "light"
    # BootstrapFewShot (and MIPROv2's demos)
    tolerance: int = 0  # a demo's rating must be within this of gold
    max_bootstrapped_demos: int = 4
    # Labeled demos teach the output format to a model that never answers in JSON zero-shot
    # (the local base model); they are rendered like the judge's inputs (fewshot.py).
    max_labeled_demos: int = 2
    # library
    library_path: str | None = None
    max_rules: int = 5
    min_gain: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if isinstance(self.budget_calls, bool) or not isinstance(self.budget_calls, int) or self.budget_calls < 1:
            raise InputError(f"--budget-calls must be a positive integer, got {self.budget_calls!r}")
        if self.mipro_auto not in ("light", "medium", "heavy"):
            raise InputError(f"mipro auto must be light, medium or heavy, got {self.mipro_auto!r}")
        if self.tolerance < 0:
            raise InputError(f"tolerance must be >= 0 rating points, got {self.tolerance!r}")
        if self.budget_cost is not None and self.budget_cost <= 0:
            raise InputError(f"budget_cost must be positive USD, got {self.budget_cost!r}")


@dataclass
class SearchContext:
    """Inputs of one optimizer search."""

    champion: RelevanceJudge
    scale: Scale
    train: SplitSet
    dev: SplitSet
    judge_lm: Any  # judge.lm.MeteredLM carrying ``budget``
    reflection_lm: Any
    budget: CallBudget
    guardrails: Guardrails
    rejections: RejectionLog
    settings: OptimizeSettings
    dev_nmse: Callable[[RelevanceJudge], float]  # scores a program on dev with the budgeted judge LM
    cost_spent: Callable[[], float | None] = lambda: 0.0

    def over_budget(self) -> bool:
        """True once the call cap (or the cost cap, where the cost is known) is reached."""
        if self.budget.remaining <= 0:
            return True
        cap = self.settings.budget_cost
        spent = self.cost_spent()
        return cap is not None and spent is not None and spent >= cap


@dataclass
class SearchOutcome:
    """What a search produced: the best program found and how it stopped."""

    program: RelevanceJudge
    stopped: str = "done"
    details: dict[str, Any] = field(default_factory=dict)
    chosen_bullets: list[str] = field(default_factory=list)
