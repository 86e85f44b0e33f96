"""Calibration maps raw ratings monotonically onto the human scale.

Stays away from where the train pairs come from (tasks/ tests cover the split guard).
"""

from __future__ import annotations

import pytest

from judge.calibration import Calibrator, apply_calibration, fit_calibrator, raw_score
from judge.scale import Scale
from judge.types import JudgeOutput

TREC = Scale.parse("0-3")


def test_isotonic_fit_pulls_an_overrating_judge_down_to_the_gold_means():
    # The judge says 3 for everything relevant-ish; humans gave 1 or 2 (mean 1.5) there.
    raws = [0, 0, 3, 3, 3, 3]
    golds = [0, 0, 1, 2, 1, 2]
    cal = fit_calibrator(raws, golds, TREC, mode="continuous")
    assert cal.map(0) == pytest.approx(0.0)
    assert cal.map(3) == pytest.approx(1.5)
    # Integer mode rounds half up: 1.5 -> 2.
    assert fit_calibrator(raws, golds, TREC).map(3) == 2


def test_the_map_is_monotone_even_when_the_data_is_not():
    raws = [1, 1, 2, 2, 3, 3]
    golds = [2, 2, 0, 0, 3, 3]  # raw 2 looks worse than raw 1
    cal = fit_calibrator(raws, golds, TREC, mode="continuous")
    mapped = [cal.map(r) for r in (0, 1, 2, 3)]
    assert mapped == sorted(mapped)
    # Pool-adjacent-violators merges raw 1 and 2 into their mean: (2+2+0+0)/4 = 1.
    assert cal.map(1) == pytest.approx(1.0)
    assert cal.map(2) == pytest.approx(1.0)


def test_unparsed_outputs_stay_unparsed_and_lm_errors_pass_through():
    cal = fit_calibrator([0, 3], [0, 2], TREC)
    outs = [
        JudgeOutput(status="ok", rating=3, raw='{"rating": 3}'),
        JudgeOutput(status="parse_error", error_kind="no_json", raw="I think 3"),
        JudgeOutput(status="lm_error", error_kind="Timeout"),
    ]
    ok, bad, err = apply_calibration(outs, cal)
    assert ok.rating == 2 and ok.raw == '{"rating": 3}'
    assert bad == outs[1] and bad.rating is None
    assert err == outs[2]


def test_self_consistency_votes_are_averaged_before_mapping():
    out = JudgeOutput(status="ok", rating=2, samples=(1, 2, 3, None))
    assert raw_score(out) == pytest.approx(2.0)


def test_round_trip_keeps_the_map_and_refuses_another_scale():
    cal = fit_calibrator([0, 1, 2, 3], [0, 0, 1, 3], TREC, fitted_on="train 2026-W47")
    again = Calibrator.from_dict(cal.to_dict(), TREC)
    assert again == cal and again.version == cal.version
    with pytest.raises(ValueError, match="fitted for scale 0-3 but the project scale is 1-5"):
        Calibrator.from_dict(cal.to_dict(), Scale())


def test_fit_refuses_data_without_two_distinct_ratings():
    with pytest.raises(ValueError, match="two distinct parsed raw ratings"):
        fit_calibrator([2, 2, None], [1, 2, 3], TREC)
