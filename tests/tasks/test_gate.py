"""The promotion gate's rules on hand-checkable numbers.

Stays away from the LM, Prefect and the artifact store: metrics are written by hand (NMSE on
the 0-100 scale, parse rate as a fraction, as judge.metrics returns them), and the end-to-end
test computes them from predictions whose NMSE is plain arithmetic.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from judge.scale import Scale
from judgeflow.errors import InputError
from tasks.gate import GateThresholds, decide, decide_from_metrics


def metrics(nmse: float, parse_rate: float, buckets: dict | None = None, n: int = 100) -> dict:
    return {"n": n, "nmse": nmse, "parse_rate": parse_rate, "nmse_by_gold": buckets or {}}


def test_candidate_better_on_every_check_is_promoted_with_its_gain_in_one_sentence():
    decision = decide_from_metrics(
        metrics(12.0, 0.96, {1: 10.0, 5: 14.0}),
        metrics(9.6, 1.00, {1: 8.0, 5: 12.0}),
        (-2.4, -3.9, -0.8),
    )
    assert decision.promote
    assert decision.reason == "promoted: NMSE fell 2.4 points (95% CI -3.9 to -0.8), parse rate +4.0 points."
    assert decision.parse_rate_delta == pytest.approx(4.0)
    assert decision.bucket_deltas == {"1": pytest.approx(-2.0), "5": pytest.approx(-2.0)}
    assert [c.name for c in decision.checks] == [
        "parse_rate",
        "min_gain",
        "bucket_regression",
        "significance",
    ]
    assert decision.failed == []


def test_gate_keeps_the_champion_when_parse_rate_falls_by_any_amount_by_default():
    # 100% -> 96.9% is a 3.1-point drop; the default allows 0.0.
    decision = decide_from_metrics(metrics(12.0, 1.0), metrics(8.0, 0.969), (-4.0, -6.0, -2.0))
    assert not decision.promote
    assert decision.reason == "kept: parse rate fell 3.1 points, more than the 0.0 allowed."
    check = decision.checks[0]
    assert (check.name, check.value, check.threshold, check.passed) == (
        "parse_rate",
        pytest.approx(3.1),
        0.0,
        False,
    )


def test_a_parse_drop_within_the_configured_allowance_passes():
    decision = decide_from_metrics(
        metrics(12.0, 1.0),
        metrics(8.0, 0.98),
        (-4.0, -6.0, -2.0),
        GateThresholds(max_parse_drop=2.0),
    )
    assert decision.promote
    assert "parse rate -2.0 points" in decision.reason


def test_gain_below_min_gain_keeps_the_champion():
    decision = decide_from_metrics(metrics(10.0, 1.0), metrics(9.8, 1.0), (-0.2, -0.5, 0.1))
    assert not decision.promote
    assert decision.reason == "kept: NMSE fell 0.2 points, less than the 0.5 required."


def test_gain_exactly_at_min_gain_passes():
    decision = decide_from_metrics(metrics(10.0, 1.0), metrics(9.5, 1.0), (-0.5, -0.9, -0.1))
    assert decision.promote


def test_a_worse_candidate_is_kept_and_the_reason_says_nmse_rose():
    decision = decide_from_metrics(metrics(10.0, 1.0), metrics(13.0, 1.0), (3.0, 1.0, 5.0))
    assert decision.reason == "kept: NMSE rose 3.0 points instead of falling by the 0.5 required."


def test_one_gold_bucket_regressing_past_the_margin_keeps_the_champion_and_names_the_bucket():
    # Overall NMSE falls 2.0, but gold rating 3 goes 20.0 -> 27.5 (+7.5 > 5.0).
    decision = decide_from_metrics(
        metrics(12.0, 1.0, {1: 10.0, 3: 20.0}),
        metrics(10.0, 1.0, {1: 4.0, 3: 27.5}),
        (-2.0, -3.0, -1.0),
    )
    assert not decision.promote
    assert decision.reason == "kept: NMSE on gold rating 3 rose 7.5 points, more than the 5.0 allowed."
    assert decision.bucket_deltas["3"] == pytest.approx(7.5)


def test_significance_required_keeps_a_gain_whose_interval_includes_zero():
    champ, cand, delta = metrics(10.0, 1.0), metrics(9.0, 1.0), (-1.0, -2.5, 0.4)
    kept = decide_from_metrics(champ, cand, delta, GateThresholds(require_significance=True))
    assert not kept.promote
    assert kept.reason == "kept: the NMSE change is not significant (95% CI -2.5 to +0.4 includes zero)."


def test_significance_off_records_the_check_but_does_not_enforce_it():
    decision = decide_from_metrics(metrics(10.0, 1.0), metrics(9.0, 1.0), (-1.0, -2.5, 0.4))
    assert decision.promote
    significance = decision.checks[-1]
    assert (significance.passed, significance.enforced, significance.value) == (
        False,
        False,
        pytest.approx(0.4),
    )


def test_every_failing_check_is_recorded_and_the_reason_leads_with_parse_rate():
    decision = decide_from_metrics(
        metrics(10.0, 1.0, {2: 5.0}),
        metrics(11.0, 0.9, {2: 15.0}),
        (1.0, -0.5, 2.5),
        GateThresholds(require_significance=True),
    )
    assert [c.name for c in decision.failed] == [
        "parse_rate",
        "min_gain",
        "bucket_regression",
        "significance",
    ]
    assert decision.reason == (
        "kept: parse rate fell 10.0 points, more than the 0.0 allowed; "
        "also failed: min_gain, bucket_regression, significance."
    )


def test_decision_with_numpy_metrics_serialises_to_json_with_every_threshold():
    champ = {
        **metrics(10.0, 1.0),
        "nmse_ci": (np.float64(8.0), np.float64(12.0)),
        "kappa": np.float64("nan"),
    }
    decision = decide_from_metrics(champ, metrics(8.0, 1.0), (np.float64(-2.0), np.float64(-3.0), np.float64(-1.0)))
    record = json.loads(decision.model_dump_json())
    assert record["champion"]["nmse_ci"] == [8.0, 12.0]
    assert record["champion"]["kappa"] is None
    assert record["thresholds"] == {
        "min_gain": 0.5,
        "max_parse_drop": 0.0,
        "max_bucket_regression": 5.0,
        "require_significance": False,
        "n_boot": 2000,
        "seed": 0,
    }


def test_metrics_without_nmse_are_refused_with_a_clear_error():
    with pytest.raises(InputError, match="candidate metrics lack nmse"):
        decide_from_metrics(metrics(10.0, 1.0), {"parse_rate": 1.0}, (0.0, 0.0, 0.0))


def test_decide_refuses_predictions_not_aligned_with_the_gold_labels():
    with pytest.raises(InputError, match=r"champion \(2\), candidate \(3\) and gold \(3\)"):
        decide([1, 2], [1, 2, 3], [1, 2, 3], Scale())


def test_decide_refuses_a_gold_rating_outside_the_scale():
    with pytest.raises(InputError, match="gold rating 7 is outside the scale 1-5"):
        decide([1, 2], [1, 2], [1, 7], Scale())


def test_unknown_threshold_names_are_refused():
    with pytest.raises(ValueError, match="min_gian"):
        GateThresholds(min_gian=1.0)


def test_decide_scores_both_judges_on_the_same_examples_end_to_end():
    # Scale 1-5 (span 4): NMSE = 100 * mean(squared error) / 16.
    golds = [1, 2, 3, 4, 5] * 8
    champion = [min(g + 2, 5) if g <= 3 else g - 2 for g in golds]  # off by 2 everywhere: NMSE 25.0
    candidate = [*golds[:-4], None, None, None, None]  # exact except 4 unparsed (error 16 each)
    # Candidate NMSE = 100 * (4 * 16) / 16 / 40 = 10.0; parse rate 36/40 = 90%.
    decision = decide(champion, candidate, golds, Scale())
    assert decision.champion["nmse"] == pytest.approx(25.0)
    assert decision.candidate["nmse"] == pytest.approx(10.0)
    assert decision.delta_nmse == pytest.approx(-15.0)
    assert decision.delta_nmse_ci[0] <= -15.0 <= decision.delta_nmse_ci[1]
    assert decision.parse_rate_delta == pytest.approx(-10.0)
    assert not decision.promote
    assert decision.reason.startswith("kept: parse rate fell 10.0 points, more than the 0.0 allowed")
    allowing = decide(
        champion,
        candidate,
        golds,
        Scale(),
        GateThresholds(max_parse_drop=10.0, max_bucket_regression=100.0),
    )
    assert allowing.promote
    assert allowing.reason.startswith("promoted: NMSE fell 15.0 points (95% CI ")
