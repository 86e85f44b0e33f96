"""Agreement metrics between judge ratings and human ratings: pure functions, no I/O.

Inputs are parallel sequences ``preds`` (``int | None``; None = the judge's answer broke the
contract) and ``golds`` (``int``), plus the ``Scale``. lm_error rows are not scored: leave
them out before calling (the evaluation engine counts them separately).

How unparsed rows count:

- ``nmse`` and its confidence intervals use EVERY row: an unparsed answer is the maximal
  error, 100 for that example. ``parse_rate`` is parsed rows / all rows.
- ``mae``, ``exact``, ``within1``, ``kappa``, ``qwk``, ``pearson``, ``spearman`` use the
  PARSED rows only (``n_parsed`` says how many); read them next to ``parse_rate``.
- ``confusion`` has an ``unparsed`` column, so nothing disappears from it.

A metric that is undefined (no parsed rows, a constant input for a correlation, chance
agreement of 1 for kappa) is None, never NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from judge.scale import Scale
from judgeflow.errors import InputError

UNPARSED = "unparsed"
_CHUNK_CELLS = 2_000_000  # resampled cells per bootstrap chunk, bounds memory at ~16 MB


def _rating(value: Any) -> int | None:
    """An int for an integral number (numpy and pandas ones too), None for None/NaN/NA.

    Raises TypeError for anything else (bools, 4.5, strings).
    """
    if value is None or str(value) == "<NA>":  # pandas.NA, without importing pandas
        return None
    if isinstance(value, bool | np.bool_):
        raise TypeError(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        if float(value).is_integer():
            return int(value)
    raise TypeError(value)


def _in_scale(value: Any, scale: Scale, *, gold: bool) -> int | None:
    try:
        rating = _rating(value)
        ok = (rating is not None or not gold) and (rating is None or scale.contains(rating))
    except TypeError:
        rating, ok = None, False
    if not ok:
        what = "gold rating" if gold else "predicted rating"
        fix = "fix the labels or the scale" if gold else "use None for an unparseable answer"
        raise InputError(f"{what} {value!r} is outside the scale {scale}; {fix}")
    return rating


def _check(
    preds: Sequence[Any], golds: Sequence[Any], scale: Scale
) -> tuple[list[int | None], list[int]]:
    """Validated plain-int copies of preds and golds; InputError names the first bad value."""
    if len(preds) != len(golds):
        raise InputError(
            f"got {len(preds)} predictions for {len(golds)} gold ratings; pass one prediction per example"
        )
    clean_golds = [_in_scale(g, scale, gold=True) for g in golds]
    clean_preds = [_in_scale(p, scale, gold=False) for p in preds]
    return clean_preds, clean_golds


def _parsed(preds: Sequence[int | None], golds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(p, g) for p, g in zip(preds, golds, strict=True) if p is not None]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    array = np.asarray(pairs, dtype=float)
    return array[:, 0], array[:, 1]


def example_errors(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> np.ndarray:
    """Per-example (pred - gold)^2 / span^2 in [0, 1]; an unparsed answer is 1."""
    preds, golds = _check(preds, golds, scale)
    pred = np.array([np.nan if p is None else p for p in preds], dtype=float)
    gold = np.asarray(golds, dtype=float)
    errors = (pred - gold) ** 2 / float(scale.span) ** 2
    return np.where(np.isnan(pred), 1.0, errors)


def nmse(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> float | None:
    """100 x mean((pred - gold)^2) / span^2, unparsed = 100 for that example; None when empty."""
    errors = example_errors(preds, golds, scale)
    return float(100.0 * errors.mean()) if errors.size else None


def parse_rate(preds: Sequence[int | None]) -> float | None:
    """Fraction of answers that parsed (not None/NaN); None when empty."""
    try:
        parsed = [_rating(p) is not None for p in preds]
    except TypeError as exc:
        raise InputError(f"predicted rating {exc.args[0]!r} is not an integer or None") from exc
    return sum(parsed) / len(parsed) if parsed else None


def mae(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> float | None:
    """Mean |pred - gold| over parsed rows."""
    preds, golds = _check(preds, golds, scale)
    pred, gold = _parsed(preds, golds)
    return float(np.abs(pred - gold).mean()) if pred.size else None


def exact_agreement(
    preds: Sequence[int | None], golds: Sequence[int], scale: Scale
) -> float | None:
    """Fraction of parsed rows with pred == gold."""
    preds, golds = _check(preds, golds, scale)
    pred, gold = _parsed(preds, golds)
    return float((pred == gold).mean()) if pred.size else None


def within1_agreement(
    preds: Sequence[int | None], golds: Sequence[int], scale: Scale
) -> float | None:
    """Fraction of parsed rows with |pred - gold| <= 1."""
    preds, golds = _check(preds, golds, scale)
    pred, gold = _parsed(preds, golds)
    return float((np.abs(pred - gold) <= 1).mean()) if pred.size else None


def _joint(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> np.ndarray | None:
    """Joint proportions over parsed rows, rows = gold level, columns = predicted level."""
    preds, golds = _check(preds, golds, scale)
    pred, gold = _parsed(preds, golds)
    if not pred.size:
        return None
    k = len(scale.values)
    counts = np.zeros((k, k))
    np.add.at(counts, (gold.astype(int) - scale.lo, pred.astype(int) - scale.lo), 1)
    return counts / pred.size


def _weighted_kappa(joint: np.ndarray | None, weights: np.ndarray) -> float | None:
    if joint is None:
        return None
    expected = np.outer(joint.sum(axis=1), joint.sum(axis=0))
    disagreement_by_chance = float((weights * expected).sum())
    if disagreement_by_chance == 0.0:
        return None
    return float(1.0 - (weights * joint).sum() / disagreement_by_chance)


def cohen_kappa(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> float | None:
    """Unweighted Cohen's kappa over parsed rows: (p_o - p_e) / (1 - p_e)."""
    k = len(scale.values)
    return _weighted_kappa(_joint(preds, golds, scale), 1.0 - np.eye(k))


def quadratic_weighted_kappa(
    preds: Sequence[int | None], golds: Sequence[int], scale: Scale
) -> float | None:
    """Cohen's kappa with weights (i - j)^2 / span^2, over parsed rows."""
    levels = np.arange(len(scale.values))
    weights = (levels[:, None] - levels[None, :]) ** 2 / float(scale.span) ** 2
    return _weighted_kappa(_joint(preds, golds, scale), weights)


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's rankdata 'average')."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return (upper - (counts - 1) / 2.0)[inverse]


def pearson(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> float | None:
    """Pearson correlation over parsed rows; None for fewer than 2 rows or a constant side."""
    preds, golds = _check(preds, golds, scale)
    return _correlation(*_parsed(preds, golds))


def spearman(preds: Sequence[int | None], golds: Sequence[int], scale: Scale) -> float | None:
    """Spearman correlation (Pearson of average ranks) over parsed rows; None when undefined."""
    preds, golds = _check(preds, golds, scale)
    pred, gold = _parsed(preds, golds)
    if pred.size < 2:
        return None
    return _correlation(_average_ranks(pred), _average_ranks(gold))


def confusion_matrix(
    preds: Sequence[int | None], golds: Sequence[int], scale: Scale
) -> dict[str, dict[str, int]]:
    """counts[gold][pred] with string keys for every level, plus an ``unparsed`` column."""
    preds, golds = _check(preds, golds, scale)
    columns = [str(v) for v in scale.values] + [UNPARSED]
    counts = {str(g): dict.fromkeys(columns, 0) for g in scale.values}
    for pred, gold in zip(preds, golds, strict=True):
        counts[str(gold)][UNPARSED if pred is None else str(pred)] += 1
    return counts


def nmse_by_gold(
    preds: Sequence[int | None], golds: Sequence[int], scale: Scale
) -> dict[str, float | None]:
    """NMSE of the examples with each gold rating (None for a rating no example has)."""
    errors = example_errors(preds, golds, scale)
    gold = np.asarray(golds)
    return {
        str(level): (float(100.0 * errors[gold == level].mean()) if np.any(gold == level) else None)
        for level in scale.values
    }


def _bootstrap_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of ``values``, computed in chunks."""
    if n_boot < 1:
        raise InputError(f"n_boot must be a positive integer, got {n_boot!r}")
    rng = np.random.default_rng(seed)
    n = values.size
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    means = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        index = rng.integers(
            0, n, size=(stop - start, n), dtype=np.int32 if n < 2**31 else np.int64
        )
        means[start:stop] = values[index].mean(axis=1)
    return means


def _interval(samples: np.ndarray, level: float = 0.95) -> list[float]:
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return [float(low), float(high)]


def nmse_ci(
    preds: Sequence[int | None],
    golds: Sequence[int],
    scale: Scale,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[float] | None:
    """Percentile bootstrap 95% interval [low, high] of NMSE; None when empty."""
    errors = example_errors(preds, golds, scale)
    if not errors.size:
        return None
    return _interval(100.0 * _bootstrap_means(errors, n_boot, seed))


def paired_delta_ci(
    pred_a: Sequence[int | None],
    pred_b: Sequence[int | None],
    gold: Sequence[int],
    scale: Scale,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """NMSE(b) - NMSE(a) on the same examples, with a paired bootstrap 95% interval.

    Negative means judge b has the lower error. Each resample draws examples, not judges,
    so both judges are scored on the same draw. ``frac_b_better`` is the share of
    resamples where the delta is below zero.
    """
    errors_a = example_errors(pred_a, gold, scale)
    errors_b = example_errors(pred_b, gold, scale)
    if not errors_a.size:
        raise InputError("paired_delta_ci needs at least one example; got none")
    diff = 100.0 * (errors_b - errors_a)
    deltas = _bootstrap_means(diff, n_boot, seed)
    return {
        "delta": float(diff.mean()),
        "ci": _interval(deltas),
        "frac_b_better": float((deltas < 0).mean()),
        "n": int(diff.size),
        "n_boot": n_boot,
    }


def compute_metrics(
    preds: Sequence[int | None],
    golds: Sequence[int],
    scale: Scale,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric above in one JSON-ready dict (see the module docstring for unparsed rows)."""
    preds, golds = _check(preds, golds, scale)
    if not len(preds):
        raise InputError("no examples to score; pass at least one prediction and gold rating")
    return {
        "scale": str(scale),
        "n": len(preds),
        "n_parsed": sum(p is not None for p in preds),
        "nmse": nmse(preds, golds, scale),
        "nmse_ci": nmse_ci(preds, golds, scale, n_boot=n_boot, seed=seed),
        "parse_rate": parse_rate(preds),
        "mae": mae(preds, golds, scale),
        "exact": exact_agreement(preds, golds, scale),
        "within1": within1_agreement(preds, golds, scale),
        "kappa": cohen_kappa(preds, golds, scale),
        "qwk": quadratic_weighted_kappa(preds, golds, scale),
        "pearson": pearson(preds, golds, scale),
        "spearman": spearman(preds, golds, scale),
        "confusion": confusion_matrix(preds, golds, scale),
        "nmse_by_gold": nmse_by_gold(preds, golds, scale),
    }
