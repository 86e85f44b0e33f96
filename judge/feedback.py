"""The optimizers' metric: a score per example and Dash-style feedback text for GEPA.

score = 1 - (pred - gold)^2 / span^2, 0 for an unparseable or off-scale output. The feedback
says what a reviewer would tell the prompt writer: predicted vs expected, the size and
direction of the gap, the human rationale when there is one, the model's own reasoning, and a
standing reminder to add a general rule rather than copy this example or change the scale.
An unparseable output gets feedback about the format failure instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dspy

from judge.scale import Scale
from judge.types import JudgeOutput

STANDING_REMINDER = (
    "When you revise the instruction: do not copy example-specific content (queries, document "
    "text, names, ids) into it; do not change the rating scale or the output fields; instead "
    "add or sharpen a general rule that would have produced the expected rating."
)

_GAP_WORDS = {0: "exactly right", 1: "off by one point", 2: "off by two points"}


def read_prediction(pred: Any, scale: Scale) -> JudgeOutput:
    """The judge's answer as a JudgeOutput, whatever shape the program returned.

    Accepts a JudgeOutput, a Prediction carrying one as ``output``, or a Prediction with
    ``rating`` / ``explanation`` (and optionally ``status``, ``raw``, ``reasoning``) fields. A
    rating that is not an int on the scale counts as a parse error (``out_of_range`` / ``wrong_type``).
    """
    if isinstance(pred, JudgeOutput):
        return pred
    inner = _get(pred, "output")
    if isinstance(inner, JudgeOutput):
        return inner
    status = _get(pred, "status") or "ok"
    rating = _get(pred, "rating")
    raw = _get(pred, "raw")
    reasoning = _get(pred, "reasoning")
    explanation = _get(pred, "explanation")
    if status != "ok":
        return JudgeOutput(status, None, explanation, _get(pred, "error_kind"), raw, reasoning)
    if rating is None:
        return JudgeOutput("parse_error", None, explanation, "missing_field", raw, reasoning)
    if isinstance(rating, str) and rating.strip().lstrip("-").isdigit():
        rating = int(rating.strip())
    if not isinstance(rating, int) or isinstance(rating, bool):
        return JudgeOutput("parse_error", None, explanation, "wrong_type", raw, reasoning)
    if not scale.contains(rating):
        return JudgeOutput("parse_error", None, explanation, "out_of_range", raw, reasoning)
    return JudgeOutput("ok", rating, explanation, None, raw, reasoning)


def _get(pred: Any, name: str) -> Any:
    if pred is None:
        return None
    if isinstance(pred, dict):
        return pred.get(name)
    try:
        return pred[name] if name in pred else getattr(pred, name, None)
    except TypeError:
        return getattr(pred, name, None)


def rating_score(pred: int | None, gold: int, scale: Scale) -> float:
    """1 - (pred - gold)^2 / span^2; 0 for a missing or off-scale rating."""
    if pred is None or not scale.contains(pred):
        return 0.0
    return 1.0 - (pred - gold) ** 2 / scale.span**2


def gap_text(pred: int, gold: int) -> str:
    """Size and direction of the gap in words."""
    gap = pred - gold
    size = _GAP_WORDS.get(abs(gap), f"off by {abs(gap)} points")
    if gap == 0:
        return "The rating is exactly right."
    direction = "too high (the judge over-rated the document)" if gap > 0 else "too low (the judge under-rated the document)"
    return f"The rating is {size}, {direction}."


def rating_feedback(
    pred: int, gold: int, scale: Scale, *, human_rationale: str | None = None,
    model_reasoning: str | None = None,
) -> str:
    """Feedback for a parsed rating, in the order a reviewer reads it."""
    lines = [f"Predicted rating {pred}, expected {gold} on the {scale} scale. {gap_text(pred, gold)}"]
    if human_rationale:
        lines.append(f"The human rater's rationale: {human_rationale.strip()}")
    if model_reasoning:
        lines.append(f"The judge's reasoning: {model_reasoning.strip()}")
    if pred != gold:
        lines.append(STANDING_REMINDER)
    return "\n".join(lines)


def format_failure_feedback(output: JudgeOutput, gold: int, scale: Scale) -> str:
    """Feedback for an output that broke the contract."""
    kind = output.error_kind or "unparseable"
    what = {
        "no_json": "it was not a JSON object",
        "missing_field": "a required field (rating or explanation) was missing",
        "wrong_type": "the rating was not an integer",
        "out_of_range": f"the rating was outside {scale}",
        "truncated_output": "it was cut off before the JSON object closed",
    }.get(kind, "it could not be parsed")
    raw = (output.raw or "").strip().replace("\n", " ")
    shown = raw[:200] + ("..." if len(raw) > 200 else "")
    return "\n".join([
        f"The output could not be parsed ({kind}): {what}. Expected rating {gold}.",
        f'The answer must be exactly one JSON object {{"rating": <integer {scale.lo}-{scale.hi}>, '
        '"explanation": "<one or two sentences>"}} and nothing else.',
        f"Raw output: {shown!r}" if shown else "The output was empty.",
        STANDING_REMINDER,
    ])


def example_gold(example: Any) -> tuple[int, str | None]:
    """(gold rating, human rationale) of a dspy.Example or JudgeExample."""
    gold = _get(example, "gold")
    if gold is None:
        gold = _get(example, "rating")
    if gold is None:
        raise ValueError(f"example {_get(example, 'id')!r} has no gold rating; optimizers need labelled examples")
    return int(gold), _get(example, "rationale") or _get(example, "explanation")


def score_and_feedback(example: Any, pred: Any, scale: Scale) -> dspy.Prediction:
    """dspy.Prediction(score=..., feedback=...) for one example."""
    gold, rationale = example_gold(example)
    output = read_prediction(pred, scale)
    if output.status == "lm_error":
        return dspy.Prediction(score=0.0, feedback=f"The LM call failed ({output.error_kind}); no rating to judge.")
    if output.status != "ok" or output.rating is None:
        return dspy.Prediction(score=0.0, feedback=format_failure_feedback(output, gold, scale))
    return dspy.Prediction(
        score=rating_score(output.rating, gold, scale),
        feedback=rating_feedback(
            output.rating, gold, scale, human_rationale=rationale,
            model_reasoning=output.reasoning or output.explanation,
        ),
    )


def make_gepa_metric(scale: Scale) -> Callable[..., dspy.Prediction]:
    """GEPA's five-argument metric: (gold, pred, trace, pred_name, pred_trace) -> Prediction."""

    def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> dspy.Prediction:
        return score_and_feedback(gold, pred, scale)

    return metric


def tolerance_threshold(tolerance: int, scale: Scale) -> float:
    """The score a rating within ``tolerance`` points of gold reaches: 1 - tolerance^2/span^2."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 rating points, got {tolerance!r}")
    return 1.0 - min(tolerance, scale.span) ** 2 / scale.span**2


def make_score_metric(scale: Scale) -> Callable[..., float]:
    """A plain metric for MIPROv2 / BootstrapFewShot: the score, 0 for an unparseable answer.

    With ``metric_threshold=tolerance_threshold(t, scale)`` a demo is accepted only when its
    rating is within ``t`` points of gold (0 = exact).
    """

    def metric(example: Any, pred: Any, trace: Any = None) -> float:
        gold, _ = example_gold(example)
        output = read_prediction(pred, scale)
        return rating_score(output.rating if output.status == "ok" else None, gold, scale)

    return metric
