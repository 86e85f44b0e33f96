"""Agreement metrics checked against values worked out by hand (the arithmetic is in each test).

Stays away from the judge, DSPy, files and the store: pure lists of ratings in, numbers out.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from judge.metrics import (
    cohen_kappa,
    compute_metrics,
    confusion_matrix,
    exact_agreement,
    mae,
    nmse,
    nmse_by_gold,
    nmse_ci,
    paired_delta_ci,
    parse_rate,
    pearson,
    quadratic_weighted_kappa,
    spearman,
    within1_agreement,
)
from judge.scale import Scale
from judgeflow.errors import InputError

ONE_FIVE = Scale(lo=1, hi=5)
ONE_THREE = Scale(lo=1, hi=3)

# One small case used by several tests: scale 1-5, span 4, span^2 = 16.
PREDS = [5, 3, None, 2]
GOLDS = [5, 1, 4, 2]


def test_nmse_counts_an_unparsed_answer_as_the_maximal_error():
    # squared errors / 16: 0/16 = 0, 2^2/16 = 0.25, unparsed = 1, 0 -> mean 1.25/4, x100 = 31.25
    assert nmse(PREDS, GOLDS, ONE_FIVE) == pytest.approx(31.25)


def test_nmse_normalises_by_the_scale_span():
    # 0-3 scale, span^2 = 9: errors 3^2/9 = 1 and 1^2/9 -> mean (1 + 1/9)/2 = 5/9 -> 55.56
    assert nmse([0, 2], [3, 3], Scale(lo=0, hi=3)) == pytest.approx(100 * 5 / 9)


def test_parse_rate_mae_and_agreement_use_the_documented_rows():
    assert parse_rate(PREDS) == 0.75  # 3 of 4 parsed
    # parsed pairs (5,5) (3,1) (2,2): |errors| 0, 2, 0
    assert mae(PREDS, GOLDS, ONE_FIVE) == pytest.approx(2 / 3)
    assert exact_agreement(PREDS, GOLDS, ONE_FIVE) == pytest.approx(2 / 3)
    assert within1_agreement(PREDS, GOLDS, ONE_FIVE) == pytest.approx(2 / 3)
    assert within1_agreement([4, 3], [5, 1], ONE_FIVE) == 0.5  # |1| <= 1 yes, |2| no


def test_nmse_by_gold_rating_bucket():
    # gold 5: 0; gold 1: 0.25 -> 25; gold 4: unparsed -> 100; gold 2: 0; gold 3: no examples
    assert nmse_by_gold(PREDS, GOLDS, ONE_FIVE) == {
        "1": 25.0,
        "2": 0.0,
        "3": None,
        "4": 100.0,
        "5": 0.0,
    }


def test_confusion_matrix_has_every_level_and_an_unparsed_column():
    matrix = confusion_matrix(PREDS, GOLDS, ONE_FIVE)
    assert list(matrix) == ["1", "2", "3", "4", "5"]
    assert list(matrix["1"]) == ["1", "2", "3", "4", "5", "unparsed"]
    assert matrix["1"]["3"] == 1 and matrix["4"]["unparsed"] == 1
    assert matrix["5"]["5"] == 1 and matrix["2"]["2"] == 1
    assert sum(sum(row.values()) for row in matrix.values()) == 4


# Kappa case on 1-3: golds 1,1,2,2,3,3 vs preds 1,2,2,2,3,1.
K_GOLDS = [1, 1, 2, 2, 3, 3]
K_PREDS = [1, 2, 2, 2, 3, 1]


def test_cohen_kappa_by_hand():
    # p_o = 4/6. gold marginals 1/3 each; pred marginals 1: 2/6, 2: 3/6, 3: 1/6
    # p_e = 1/3 * (2/6 + 3/6 + 1/6) = 1/3; kappa = (4/6 - 1/3) / (1 - 1/3) = 0.5
    assert cohen_kappa(K_PREDS, K_GOLDS, ONE_THREE) == pytest.approx(0.5)


def test_quadratic_weighted_kappa_by_hand():
    # weights (i-j)^2/2^2. observed: (g1,p2) 1/6 * 1/4 + (g3,p1) 1/6 * 1 = 5/24
    # expected: g1 row 1/3*(3/6*1/4 + 1/6*1) = 7/72; g2 row 1/3*(2/6*1/4 + 1/6*1/4) = 3/72;
    #           g3 row 1/3*(2/6*1 + 3/6*1/4) = 11/72; total 21/72 = 7/24
    # qwk = 1 - (5/24)/(7/24) = 2/7
    assert quadratic_weighted_kappa(K_PREDS, K_GOLDS, ONE_THREE) == pytest.approx(2 / 7)


def test_kappas_ignore_unparsed_rows_and_are_none_when_chance_agreement_is_total():
    assert cohen_kappa([*K_PREDS, None], [*K_GOLDS, 3], ONE_THREE) == pytest.approx(0.5)
    assert cohen_kappa([3, 3], [3, 3], ONE_THREE) is None  # p_e = 1
    assert quadratic_weighted_kappa([3, 3], [3, 3], ONE_THREE) is None


def test_pearson_by_hand():
    # x 1,2,3,4 (mean 2.5), y 2,4,5,9 (mean 5): dx -1.5,-.5,.5,1.5; dy -3,-1,0,4
    # sum dxdy = 4.5+.5+0+6 = 11; sum dx^2 = 5; sum dy^2 = 26; r = 11/sqrt(130)
    assert pearson([1, 2, 3, 4], [2, 4, 5, 9], Scale(lo=0, hi=10)) == pytest.approx(11 / 130**0.5)


def test_spearman_by_hand_with_tied_ranks():
    # ranks x: 1, 2.5, 2.5, 4; ranks y (1,3,2,4): 1, 3, 2, 4; both mean 2.5
    # dx -1.5,0,0,1.5; dy -1.5,.5,-.5,1.5: sum dxdy 4.5, sum dx^2 4.5, sum dy^2 5 -> 4.5/sqrt(22.5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4], ONE_FIVE) == pytest.approx(4.5 / 22.5**0.5)


def test_correlations_are_none_when_undefined():
    assert pearson([3, 3, 3], [1, 2, 3], ONE_FIVE) is None  # constant predictions
    assert spearman([1, 2, 3], [4, 4, 4], ONE_FIVE) is None  # constant gold
    assert pearson([2, None], [1, 2], ONE_FIVE) is None  # one parsed row
    assert spearman([None, None], [1, 2], ONE_FIVE) is None


def test_all_unparsed_is_maximal_nmse_and_no_agreement_figures():
    m = compute_metrics([None, None], [1, 5], ONE_FIVE, n_boot=50)
    assert (m["nmse"], m["parse_rate"], m["n_parsed"]) == (100.0, 0.0, 0)
    assert m["mae"] is None and m["kappa"] is None and m["exact"] is None
    assert m["nmse_ci"] == [100.0, 100.0]


def test_nmse_ci_collapses_when_every_example_has_the_same_error():
    # every prediction is 2 off on 1-5: each error 4/16 -> every resample has NMSE 25
    assert nmse_ci([3, 3, 3, 3], [1, 1, 1, 1], ONE_FIVE, n_boot=200) == [25.0, 25.0]


def test_nmse_ci_brackets_the_estimate_is_seeded_and_has_the_normal_width():
    rng = np.random.default_rng(7)
    golds = [int(g) for g in rng.integers(1, 6, 400)]
    preds = [int(p) if rng.random() > 0.1 else None for p in rng.integers(1, 6, 400)]
    point = nmse(preds, golds, ONE_FIVE)
    low, high = nmse_ci(preds, golds, ONE_FIVE, n_boot=2000, seed=3)
    assert low < point < high
    assert nmse_ci(preds, golds, ONE_FIVE, n_boot=2000, seed=3) == [low, high]
    assert nmse_ci(preds, golds, ONE_FIVE, n_boot=2000, seed=4) != [low, high]
    errors = 100 * np.array(
        [1.0 if p is None else (p - g) ** 2 / 16 for p, g in zip(preds, golds, strict=True)]
    )
    normal_width = 2 * 1.96 * errors.std() / 400**0.5
    assert high - low == pytest.approx(normal_width, rel=0.15)


def test_paired_delta_of_a_judge_with_itself_is_zero():
    result = paired_delta_ci(PREDS, PREDS, GOLDS, ONE_FIVE, n_boot=100)
    assert (result["delta"], result["ci"], result["frac_b_better"]) == (0.0, [0.0, 0.0], 0.0)


def test_paired_delta_by_hand_when_b_is_better_on_every_example():
    # gold 1: a says 3 -> 2^2/16 = 25 each; b says 2 -> 1/16 = 6.25 each; delta b - a = -18.75
    result = paired_delta_ci([3, 3, 3], [2, 2, 2], [1, 1, 1], ONE_FIVE, n_boot=100)
    assert result["delta"] == pytest.approx(-18.75)
    assert result["ci"] == pytest.approx([-18.75, -18.75])
    assert result["frac_b_better"] == 1.0 and result["n"] == 3


def test_paired_delta_interval_is_tighter_than_unpaired_when_judges_agree_mostly():
    rng = np.random.default_rng(11)
    golds = [int(g) for g in rng.integers(1, 6, 300)]
    a = [int(p) for p in rng.integers(1, 6, 300)]
    b = [
        g if i % 10 == 0 else p for i, (p, g) in enumerate(zip(a, golds, strict=True))
    ]  # b fixes 1 in 10
    result = paired_delta_ci(a, b, golds, ONE_FIVE, n_boot=2000, seed=1)
    assert result["delta"] == pytest.approx(nmse(b, golds, ONE_FIVE) - nmse(a, golds, ONE_FIVE))
    assert result["ci"][1] < 0  # b is better and the paired interval sees it
    unpaired = nmse_ci(a, golds, ONE_FIVE, n_boot=2000, seed=1)
    assert result["ci"][1] - result["ci"][0] < unpaired[1] - unpaired[0]


def test_bootstrap_of_5000_examples_and_2000_resamples_is_fast():
    rng = np.random.default_rng(0)
    golds = [int(g) for g in rng.integers(1, 6, 5000)]
    a = [int(p) for p in rng.integers(1, 6, 5000)]
    b = [int(p) for p in rng.integers(1, 6, 5000)]
    start = time.perf_counter()
    paired_delta_ci(a, b, golds, ONE_FIVE, n_boot=2000)
    nmse_ci(a, golds, ONE_FIVE, n_boot=2000)
    assert time.perf_counter() - start < 3.0


def test_compute_metrics_returns_every_key_with_plain_json_types():
    m = compute_metrics(PREDS, GOLDS, ONE_FIVE, n_boot=100)
    expected = {"n", "nmse", "nmse_ci", "parse_rate", "mae", "exact", "within1", "kappa", "qwk"}
    expected |= {"pearson", "spearman", "confusion", "nmse_by_gold", "n_parsed", "scale"}
    assert expected <= set(m)
    assert (m["n"], m["n_parsed"], m["scale"]) == (4, 3, "1-5")
    assert m["nmse"] == pytest.approx(31.25)
    assert all(isinstance(m[k], float) for k in ("nmse", "parse_rate", "mae", "pearson"))
    assert isinstance(m["nmse_ci"], list) and isinstance(m["nmse_ci"][0], float)


def test_numpy_and_pandas_style_values_are_read_as_plain_ratings():
    # int64 ratings, NaN for an unparsed answer, 4.0 from a float column: same as PREDS/GOLDS
    preds = [np.int64(5), 3.0, float("nan"), np.int32(2)]
    golds = np.array(GOLDS)
    assert nmse(preds, golds, ONE_FIVE) == pytest.approx(31.25)
    assert parse_rate(preds) == 0.75
    assert compute_metrics(preds, golds, ONE_FIVE, n_boot=10)["n_parsed"] == 3


@pytest.mark.parametrize(
    ("preds", "golds", "message"),
    [
        ([1, 2], [1], "2 predictions for 1 gold"),
        ([1], [6], "gold rating 6 is outside the scale 1-5"),
        ([0], [1], "predicted rating 0 is outside the scale 1-5"),
        ([True], [1], "predicted rating True"),
        ([4.5], [1], "predicted rating 4.5"),
        (["4"], [1], "predicted rating '4'"),
        ([1], [None], "gold rating None"),
        ([], [], "no examples"),
    ],
)
def test_bad_input_raises_input_error_naming_the_value(preds, golds, message):
    with pytest.raises(InputError, match=message):
        compute_metrics(preds, golds, ONE_FIVE)
