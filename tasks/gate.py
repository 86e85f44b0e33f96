"""The promotion gate: champion and candidate scored on the same test examples, side by side.

The candidate is promoted only if every enforced check holds, in this order of importance:
parse rate (a format regression breaks production first), NMSE gain, per-gold-rating bucket
regression, and, when required, significance (the paired-bootstrap 95% interval of the NMSE
delta lies below zero). NMSE is on the 0-100 scale of ``judge.metrics``; parse rate is a
fraction there and is reported here in percentage points. The reason is one sentence naming
the most important failing check (or the gain when promoted).
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict, Field

from judge.scale import Scale
from judgeflow.errors import InputError
from tasks.artifacts import jsonable

_EPS = 1e-9  # float noise: a 0.0-point drop allowed must not fail on 1e-15


class GateThresholds(BaseModel):
    """Every threshold of the gate; each is configurable from the flow's form."""

    model_config = ConfigDict(extra="forbid")

    min_gain: float = Field(0.5, ge=0.0, description="NMSE must fall by at least this many points (0-100)")
    max_parse_drop: float = Field(0.0, ge=0.0, description="Parse rate may fall by at most this many percentage points")
    max_bucket_regression: float = Field(5.0, ge=0.0, description="No gold bucket's NMSE may rise by more than this")
    require_significance: bool = Field(False, description="The 95% CI of the NMSE delta must lie below zero")
    n_boot: int = Field(2000, ge=100, le=100_000, description="Paired bootstrap resamples")
    seed: int = Field(0, description="Bootstrap seed")


class Check(BaseModel):
    """One rule: its measured value, its threshold, whether it held and whether it counts."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool
    enforced: bool = True
    message: str


class Decision(BaseModel):
    """The gate's record: every number, every threshold, and the reason in one sentence."""

    promote: bool
    reason: str
    checks: list[Check]
    champion: dict[str, Any]
    candidate: dict[str, Any]
    delta_nmse: float
    delta_nmse_ci: tuple[float, float]
    parse_rate_delta: float  # candidate - champion, percentage points
    bucket_deltas: dict[str, float]  # gold rating -> candidate - champion NMSE
    thresholds: GateThresholds
    n: int

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.enforced and not c.passed]


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def _checks(
    champ: dict[str, Any], cand: dict[str, Any], ci: tuple[float, float], t: GateThresholds
) -> tuple[list[Check], dict[str, float]]:
    gain = float(champ["nmse"]) - float(cand["nmse"])
    drop = 100.0 * (float(champ["parse_rate"]) - float(cand["parse_rate"]))
    buckets = {
        str(k): float(cand["nmse_by_gold"][k]) - float(v)
        for k, v in (champ.get("nmse_by_gold") or {}).items()
        if k in (cand.get("nmse_by_gold") or {}) and v is not None and cand["nmse_by_gold"][k] is not None
    }
    worst_key = max(buckets, key=lambda k: buckets[k]) if buckets else None
    worst = buckets[worst_key] if worst_key is not None else 0.0
    lo, hi = ci
    parse_ok = drop <= t.max_parse_drop + _EPS
    gain_ok = gain >= t.min_gain - _EPS
    bucket_ok = worst <= t.max_bucket_regression + _EPS
    significant = hi < 0.0
    checks = [
        Check(
            name="parse_rate",
            value=round(drop, 6),
            threshold=t.max_parse_drop,
            passed=parse_ok,
            message=(
                f"parse rate {_signed(-drop)} points"
                if parse_ok
                else f"parse rate fell {drop:.1f} points, more than the {t.max_parse_drop:.1f} allowed"
            ),
        ),
        Check(
            name="min_gain",
            value=round(gain, 6),
            threshold=t.min_gain,
            passed=gain_ok,
            message=(
                f"NMSE fell {gain:.1f} points, at least the {t.min_gain:.1f} required"
                if gain_ok
                else f"NMSE fell {gain:.1f} points, less than the {t.min_gain:.1f} required"
                if gain >= 0
                else f"NMSE rose {-gain:.1f} points instead of falling by the {t.min_gain:.1f} required"
            ),
        ),
        Check(
            name="bucket_regression",
            value=round(worst, 6),
            threshold=t.max_bucket_regression,
            passed=bucket_ok,
            message=(
                "no gold-rating bucket to compare"
                if worst_key is None
                else f"worst gold rating {worst_key} NMSE {_signed(worst)} points, within the "
                f"{t.max_bucket_regression:.1f} allowed"
                if bucket_ok
                else f"NMSE on gold rating {worst_key} rose {worst:.1f} points, more than the "
                f"{t.max_bucket_regression:.1f} allowed"
            ),
        ),
        Check(
            name="significance",
            value=round(hi, 6),
            threshold=0.0,
            passed=significant,
            enforced=t.require_significance,
            message=(
                f"the NMSE change is significant (95% CI {lo:+.1f} to {hi:+.1f})"
                if significant
                else f"the NMSE change is not significant (95% CI {lo:+.1f} to {hi:+.1f} includes zero)"
                if lo <= 0.0 <= hi
                else f"the NMSE change's 95% CI {lo:+.1f} to {hi:+.1f} does not lie below zero"
            ),
        ),
    ]
    return checks, buckets


def decide_from_metrics(
    champion: dict[str, Any],
    candidate: dict[str, Any],
    delta_ci: dict[str, Any] | tuple[float, float, float],
    thresholds: GateThresholds | None = None,
) -> Decision:
    """The decision from two compute_metrics dicts and paired_delta_ci's record (or (delta, lo, hi))."""
    t = thresholds or GateThresholds()
    for side, metrics in (("champion", champion), ("candidate", candidate)):
        missing = [k for k in ("nmse", "parse_rate") if metrics.get(k) is None]
        if missing:
            raise InputError(f"{side} metrics lack {', '.join(missing)}; pass judge.metrics.compute_metrics output")
    if isinstance(delta_ci, dict):  # judge.metrics.paired_delta_ci's record
        delta, (lo, hi) = float(delta_ci["delta"]), (float(x) for x in delta_ci["ci"])
    else:
        delta, lo, hi = (float(x) for x in delta_ci)
    checks, buckets = _checks(champion, candidate, (lo, hi), t)
    failed = [c for c in checks if c.enforced and not c.passed]
    parse_delta = 100.0 * (float(candidate["parse_rate"]) - float(champion["parse_rate"]))
    if failed:
        reason = f"kept: {failed[0].message}"
        if len(failed) > 1:
            reason += f"; also failed: {', '.join(c.name for c in failed[1:])}"
    else:
        reason = (
            f"promoted: NMSE fell {-delta:.1f} points (95% CI {lo:.1f} to {hi:.1f}), "
            f"parse rate {_signed(parse_delta)} points"
        )
    return Decision(
        promote=not failed,
        reason=reason + ".",
        checks=checks,
        champion=jsonable(champion),
        candidate=jsonable(candidate),
        delta_nmse=delta,
        delta_nmse_ci=(lo, hi),
        parse_rate_delta=round(parse_delta, 6),
        bucket_deltas=buckets,
        thresholds=t,
        n=int(candidate.get("n") or 0),
    )


def decide(
    champion_preds: list[int | None],
    candidate_preds: list[int | None],
    golds: list[int],
    scale: Scale,
    thresholds: GateThresholds | None = None,
) -> Decision:
    """Score both judges on the same examples and decide whether the candidate is promoted."""
    t = thresholds or GateThresholds()
    if not golds:
        raise InputError("the gate needs at least one test example; ingest and split a week with test queries")
    if not len(champion_preds) == len(candidate_preds) == len(golds):
        raise InputError(
            f"champion ({len(champion_preds)}), candidate ({len(candidate_preds)}) and gold ({len(golds)}) "
            "must be aligned on the same test examples; score both judges on the same run"
        )
    bad = [g for g in golds if not scale.contains(g)]
    if bad:
        raise InputError(f"gold rating {bad[0]!r} is outside the scale {scale}; fix the labels or the scale")
    from judge.metrics import compute_metrics, paired_delta_ci

    champ = compute_metrics(champion_preds, golds, scale, n_boot=t.n_boot, seed=t.seed)
    cand = compute_metrics(candidate_preds, golds, scale, n_boot=t.n_boot, seed=t.seed)
    delta = paired_delta_ci(champion_preds, candidate_preds, golds, scale, n_boot=t.n_boot, seed=t.seed)
    return decide_from_metrics(champ, cand, delta, t)


@task(name="gate-candidate", cache_policy=NO_CACHE)
def gate_task(
    champion_preds: list[int | None],
    candidate_preds: list[int | None],
    golds: list[int],
    scale: Scale,
    thresholds: GateThresholds | None = None,
) -> Decision:
    """Decide whether the candidate replaces the champion."""
    return decide(champion_preds, candidate_preds, golds, scale, thresholds)
