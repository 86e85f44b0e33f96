"""Library mode: choose rules from the human-written catalogue, never rewrite the instruction.

Greedy forward selection on dev NMSE (judge.library.greedy_select). Each trial program is the
champion with the chosen rules appended, scored through the evaluation engine, so a trial
seen before costs no LM call (prediction cache). Rules whose text fails the guardrails are
rejected before any call. The call budget ends the search with the best rules so far.
"""

from __future__ import annotations

from judge.library import ensure_appends_only, greedy_select, load_catalogue
from judge.lm import BudgetExhausted
from judge.program import RelevanceJudge
from tasks.optimizers.context import SearchContext, SearchOutcome


def with_instruction(champion: RelevanceJudge, instruction: str) -> RelevanceJudge:
    """A copy of the champion (demos included) whose predictor has ``instruction``."""
    program = champion.deepcopy()
    predictor = program.predictor
    predictor.signature = predictor.signature.with_instructions(instruction)
    return program


def run_library(ctx: SearchContext) -> SearchOutcome:
    """Pick catalogue rules to append to the champion's instruction by dev NMSE."""
    s = ctx.settings
    catalogue = load_catalogue(s.library_path)
    base = ctx.champion.instruction

    def nmse_of(instruction: str) -> float:
        if ctx.over_budget():
            raise BudgetExhausted("the optimization budget is spent")
        return ctx.dev_nmse(with_instruction(ctx.champion, instruction))

    def check(instruction: str) -> list:
        violations = ctx.guardrails.check_instruction(instruction)
        if violations:
            ctx.rejections.record("library", instruction, violations)
        return violations

    result = greedy_select(
        base, catalogue, nmse_of, max_rules=s.max_rules, min_gain=s.min_gain, check=check,
        stop_on=(BudgetExhausted,),
    )
    ensure_appends_only(base, result.instruction)
    return SearchOutcome(
        program=with_instruction(ctx.champion, result.instruction),
        stopped="budget" if result.stopped == "budget" else "done",
        details={
            "catalogue": catalogue.source,
            "catalogue_version": catalogue.version,
            "rule_versions": catalogue.versions(),
            "selection": result.to_dict(),
        },
        chosen_bullets=result.chosen,
    )
