"""The optimizers' metric: scores against hand-computed values, Dash-style feedback text.

Stays away from LMs and optimizers: predictions are built by hand (dspy.Prediction or
JudgeOutput) and the metric is called directly.
"""

from __future__ import annotations

import inspect

import dspy
import pytest

from judge.feedback import (
    STANDING_REMINDER,
    make_gepa_metric,
    make_score_metric,
    rating_score,
    read_prediction,
    score_and_feedback,
    tolerance_threshold,
)
from judge.scale import Scale
from judge.types import JudgeOutput

S15 = Scale.parse("1-5")
S03 = Scale.parse("0-3")


def gold(rating: int, rationale: str = "") -> dspy.Example:
    return dspy.Example(query="q", document="d", rating=rating, explanation=rationale).with_inputs("query", "document")


def test_score_is_one_minus_squared_gap_over_squared_span():
    assert rating_score(4, 4, S15) == 1.0
    assert rating_score(5, 4, S15) == pytest.approx(1 - 1 / 16)
    assert rating_score(1, 5, S15) == 0.0
    assert rating_score(2, 0, S03) == pytest.approx(1 - 4 / 9)


def test_an_unparseable_or_off_scale_rating_scores_zero():
    assert rating_score(None, 3, S15) == 0.0
    assert rating_score(7, 3, S15) == 0.0
    pred = dspy.Prediction(rating=None, explanation=None, status="parse_error", error_kind="no_json", raw="Rating: 4")
    assert score_and_feedback(gold(4), pred, S15).score == 0.0


def test_the_gepa_metric_takes_five_arguments_and_returns_score_and_feedback():
    metric = make_gepa_metric(S15)
    inspect.signature(metric).bind(None, None, None, None, None)
    out = metric(gold(2), dspy.Prediction(rating=5, explanation="Mentions the policy."), None, "judge", None)
    assert out.score == pytest.approx(1 - 9 / 16)
    assert isinstance(out.feedback, str)


def test_feedback_gives_predicted_expected_gap_direction_rationale_reasoning_and_the_reminder():
    pred = dspy.Prediction(rating=5, explanation="The page is about the travel policy.")
    feedback = score_and_feedback(gold(2, "The page is from 2009; the policy changed since."), pred, S15).feedback
    assert "Predicted rating 5, expected 2 on the 1-5 scale" in feedback
    assert "off by 3 points, too high" in feedback
    assert "The human rater's rationale: The page is from 2009; the policy changed since." in feedback
    assert "The judge's reasoning: The page is about the travel policy." in feedback
    assert STANDING_REMINDER in feedback
    assert "do not copy example-specific content" in STANDING_REMINDER
    assert "do not change the rating scale" in STANDING_REMINDER
    assert "add or sharpen a general rule" in STANDING_REMINDER


def test_feedback_on_an_under_rating_says_too_low_and_an_exact_rating_skips_the_reminder():
    low = score_and_feedback(gold(4), dspy.Prediction(rating=3, explanation="x"), S15).feedback
    assert "off by one point, too low" in low
    exact = score_and_feedback(gold(4), dspy.Prediction(rating=4, explanation="x"), S15).feedback
    assert "exactly right" in exact
    assert STANDING_REMINDER not in exact


def test_an_unparseable_output_gets_format_failure_feedback_with_the_raw_text():
    pred = dspy.Prediction(rating=None, explanation=None, status="parse_error", error_kind="no_json",
                           raw="Rating: 4 - looks relevant")
    feedback = score_and_feedback(gold(4), pred, S15).feedback
    assert "could not be parsed (no_json)" in feedback
    assert '"rating": <integer 1-5>' in feedback
    assert "Rating: 4 - looks relevant" in feedback


def test_read_prediction_turns_an_off_scale_or_non_integer_rating_into_a_parse_error():
    assert read_prediction(dspy.Prediction(rating=9, explanation="x"), S15).error_kind == "out_of_range"
    assert read_prediction(dspy.Prediction(rating="high", explanation="x"), S15).error_kind == "wrong_type"
    assert read_prediction(dspy.Prediction(explanation="x"), S15).error_kind == "missing_field"
    output = JudgeOutput("ok", 3, "fine")
    assert read_prediction(output, S15) is output


def test_an_lm_error_scores_zero_and_says_the_call_failed():
    out = score_and_feedback(gold(3), JudgeOutput("lm_error", error_kind="Timeout"), S15)
    assert out.score == 0.0
    assert "LM call failed" in out.feedback


def test_a_tolerance_threshold_accepts_exactly_the_ratings_within_tolerance():
    metric = make_score_metric(S15)
    exact, within_one = tolerance_threshold(0, S15), tolerance_threshold(1, S15)
    scores = {p: metric(gold(3), dspy.Prediction(rating=p, explanation="x")) for p in range(1, 6)}
    assert [p for p, s in scores.items() if s >= exact] == [3]
    assert [p for p, s in scores.items() if s >= within_one] == [2, 3, 4]
    unparsed = dspy.Prediction(rating=None, explanation=None, status="parse_error", error_kind="no_json")
    assert metric(gold(3), unparsed) == 0.0


def test_an_example_without_a_gold_rating_is_refused():
    with pytest.raises(ValueError, match="no gold rating"):
        score_and_feedback(dspy.Example(query="q"), dspy.Prediction(rating=3), S15)
