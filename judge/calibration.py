"""Score calibration: a monotone map from the judge's raw rating to the human scale.

LLM judges on TREC-style data are badly calibrated (their squared error drops by about a
fifth under a linear rescaling), so a monotone post-processing stage is a real lever. It is
fitted on the train split only, versioned on its own, stored beside the program and applied
after the strict contract: an unparseable output stays unparseable (calibration never turns a
format failure into a score).

The input is the raw rating, or with self-consistency the mean of the votes; the map is an
isotonic (non-decreasing) regression, stored as its breakpoints so it is plain JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression

from judge.scale import Scale
from judge.types import JudgeOutput

CALIBRATION_FORMAT = 1
Mode = Literal["integer", "continuous"]


@dataclass(frozen=True)
class Calibrator:
    """A fitted monotone map; ``x`` and ``y`` are the isotonic breakpoints."""

    scale: Scale
    x: tuple[float, ...]
    y: tuple[float, ...]
    mode: Mode = "integer"
    n_fit: int = 0
    fitted_on: str = ""  # e.g. "train split of 2026-W47, ids sha256 ..."

    def map(self, raw: float | None) -> float | int | None:
        """The calibrated rating for one raw rating (None stays None)."""
        if raw is None:
            return None
        value = float(np.interp(raw, self.x, self.y))
        value = min(max(value, self.scale.lo), self.scale.hi)
        return int(np.floor(value + 0.5)) if self.mode == "integer" else value

    def to_dict(self) -> dict:
        return {
            "format": CALIBRATION_FORMAT,
            "kind": "isotonic",
            "scale": str(self.scale),
            "mode": self.mode,
            "x": list(self.x),
            "y": list(self.y),
            "n_fit": self.n_fit,
            "fitted_on": self.fitted_on,
        }

    @property
    def version(self) -> str:
        """Content hash: two calibrators with the same map share a version."""
        payload = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: dict, scale: Scale) -> Calibrator:
        if data.get("format") != CALIBRATION_FORMAT or data.get("kind") != "isotonic":
            raise ValueError(f"unknown calibration format {data.get('format')!r}/{data.get('kind')!r}")
        stored = Scale.parse(data["scale"])
        if stored != scale:
            raise ValueError(
                f"calibration was fitted for scale {stored} but the project scale is {scale}; "
                "refit it on this project's train split"
            )
        return cls(
            scale=stored,
            x=tuple(data["x"]),
            y=tuple(data["y"]),
            mode=data.get("mode", "integer"),
            n_fit=int(data.get("n_fit", 0)),
            fitted_on=str(data.get("fitted_on", "")),
        )


def raw_score(output: JudgeOutput) -> float | None:
    """What calibration reads: the mean of ok votes with self-consistency, else the rating."""
    if output.status != "ok":
        return None
    votes = [v for v in output.samples if v is not None]
    if votes:
        return float(np.mean(votes))
    return None if output.rating is None else float(output.rating)


def fit_calibrator(
    raws: list[float | None],
    golds: list[int],
    scale: Scale,
    *,
    mode: Mode = "integer",
    fitted_on: str = "",
) -> Calibrator:
    """Fit an isotonic map on (raw, gold) pairs; unparsed raws are left out of the fit.

    Callers must pass train-split pairs only: ``tasks.calibrate`` loads them itself so test
    rows cannot reach this function through it.
    """
    if len(raws) != len(golds):
        raise ValueError(f"raws and golds differ in length: {len(raws)} vs {len(golds)}")
    pairs = [(float(r), float(g)) for r, g in zip(raws, golds, strict=True) if r is not None]
    if len(pairs) < 2 or len({r for r, _ in pairs}) < 2:
        raise ValueError(
            f"calibration needs at least two distinct parsed raw ratings on train, got {len(pairs)} "
            "parsed rows; label more train data or skip calibration"
        )
    x, y = np.array(pairs).T
    iso = IsotonicRegression(y_min=scale.lo, y_max=scale.hi, increasing=True, out_of_bounds="clip")
    iso.fit(x, y)
    return Calibrator(
        scale=scale,
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
        mode=mode,
        n_fit=len(pairs),
        fitted_on=fitted_on,
    )


def apply_calibration(outputs: list[JudgeOutput], calibrator: Calibrator) -> list[JudgeOutput]:
    """Calibrated copies of the outputs; parse and LM errors pass through unchanged."""
    calibrated = []
    for out in outputs:
        raw = raw_score(out)
        if raw is None:
            calibrated.append(out)
            continue
        calibrated.append(replace(out, rating=calibrator.map(raw)))
    return calibrated
