"""Calibration as a candidate: fit a monotone map on TRAIN, measure it on dev, apply it at test.

The candidate "champion + calibrator" is scored like any other: its outputs on the test split
are ``apply_calibration(champion outputs, calibrator)`` (see :func:`calibrated_outputs`), so
the gate compares the same examples with the same LM calls. Test rows cannot reach the fit:
:func:`fit_on_train` loads the train examples itself, and examples handed to it must all be
train examples of the week (anything else raises).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
from prefect import task

from judge.calibration import Calibrator, Mode, apply_calibration, fit_calibrator, raw_score
from judge.scale import Scale
from judge.types import JudgeExample, JudgeOutput
from judgeflow.config import Settings, load_settings
from judgeflow.errors import InputError
from judgeflow.weeks import parse_week

JudgeFn = Callable[[list[JudgeExample]], list[JudgeOutput]]
Loader = Callable[..., list[JudgeExample]]


def _load_examples(con: duckdb.DuckDBPyConnection, split: str, week: str) -> list[JudgeExample]:
    from tasks.split import load_examples

    return load_examples(con, split, week)


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted calibrator and the dev metrics of the judge before and after it."""

    calibrator: Calibrator
    before: dict[str, Any]
    after: dict[str, Any]
    n_train: int
    n_dev: int
    week: str
    path: str | None = None  # where the calibrator JSON was saved

    def to_dict(self) -> dict[str, Any]:
        keys = ("n", "nmse", "parse_rate", "mae", "kappa", "qwk", "pearson", "spearman")
        return {
            "week": self.week,
            "calibrator": self.calibrator.to_dict(),
            "calibrator_version": self.calibrator.version,
            "n_train": self.n_train,
            "n_dev": self.n_dev,
            "path": self.path,
            "dev_before": {k: self.before.get(k) for k in keys},
            "dev_after": {k: self.after.get(k) for k in keys},
        }


def _ids_digest(examples: list[JudgeExample]) -> str:
    return hashlib.sha256("\n".join(sorted(e.id for e in examples)).encode()).hexdigest()[:12]


def ensure_train_only(
    con: duckdb.DuckDBPyConnection, week: str, examples: list[JudgeExample], *, load: Loader = _load_examples
) -> None:
    """Raise InputError if any example is not a train example of ``week``."""
    train_ids = {e.id for e in load(con, "train", week)}
    outside = [e.id for e in examples if e.id not in train_ids]
    if outside:
        raise InputError(
            f"calibration fits on the train split only, but {len(outside)} example(s) are not train "
            f"examples of {week} (first: {outside[0]!r}); pass train examples or let it load them"
        )


def fit_on_train(
    con: duckdb.DuckDBPyConnection,
    week: str,
    judge: JudgeFn,
    scale: Scale,
    *,
    examples: list[JudgeExample] | None = None,
    mode: Mode = "integer",
    load: Loader = _load_examples,
) -> Calibrator:
    """Run the judge on the week's train examples and fit the calibrator on (raw, gold)."""
    if examples is None:
        examples = load(con, "train", week)
    else:
        ensure_train_only(con, week, examples, load=load)
    labelled = [e for e in examples if e.gold is not None]
    if not labelled:
        raise InputError(f"no labelled train examples for {week}; ingest and split the week first")
    outputs = judge(labelled)
    scored = [(o, e) for o, e in zip(outputs, labelled, strict=True) if o.status != "lm_error"]
    return fit_calibrator(
        [raw_score(o) for o, _ in scored],
        [int(e.gold) for _, e in scored],
        scale,
        mode=mode,
        fitted_on=f"train split of {week}: {len(labelled)} examples, ids sha256 {_ids_digest(labelled)}",
    )


def calibrated_outputs(outputs: list[JudgeOutput], calibrator: Calibrator) -> list[JudgeOutput]:
    """The candidate's outputs: the champion's outputs passed through the calibrator."""
    return apply_calibration(outputs, calibrator)


def score_outputs(outputs: list[JudgeOutput], examples: list[JudgeExample], scale: Scale) -> dict[str, Any]:
    """judge.metrics over labelled, non-lm_error rows (lm_error rows are not scored)."""
    from judge.metrics import compute_metrics

    pairs = [
        (o.rating if o.status == "ok" else None, int(e.gold))
        for o, e in zip(outputs, examples, strict=True)
        if o.status != "lm_error" and e.gold is not None
    ]
    if not pairs:
        return {"n": 0}
    return compute_metrics([p for p, _ in pairs], [g for _, g in pairs], scale)


def calibrate(
    con: duckdb.DuckDBPyConnection,
    week: str,
    judge: JudgeFn,
    scale: Scale,
    *,
    mode: Mode = "integer",
    load: Loader = _load_examples,
) -> CalibrationResult:
    """Fit on train, then score the judge on dev before and after calibration."""
    calibrator = fit_on_train(con, week, judge, scale, mode=mode, load=load)
    dev = [e for e in load(con, "dev", week) if e.gold is not None]
    if not dev:
        raise InputError(f"no labelled dev examples for {week}; calibration is measured on dev")
    raw = judge(dev)
    return CalibrationResult(
        calibrator=calibrator,
        before=score_outputs(raw, dev, scale),
        after=score_outputs(calibrated_outputs(raw, calibrator), dev, scale),
        n_train=calibrator.n_fit,
        n_dev=len(dev),
        week=week,
    )


def save_calibrator(calibrator: Calibrator, path: str | Path) -> Path:
    """Write the calibrator as JSON (temp file then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(calibrator.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_calibrator(path: str | Path, scale: Scale) -> Calibrator:
    """Read a calibrator; refuses one fitted for another scale (InputError)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"calibrator file {str(path)!r} does not exist; run `judgeflow calibrate` first")
    try:
        return Calibrator.from_dict(json.loads(path.read_text(encoding="utf-8")), scale)
    except (ValueError, KeyError) as exc:
        raise InputError(f"calibrator {str(path)!r}: {exc}") from exc


def program_judge(program: Any, lm_cfg: Any, *, scale: Scale, con: duckdb.DuckDBPyConnection, week: str) -> JudgeFn:
    """A JudgeFn running ``program`` through the cached evaluation engine."""
    from tasks.evaluate import evaluate_program

    def run(examples: list[JudgeExample]) -> list[JudgeOutput]:
        result = evaluate_program(program, examples, lm_cfg, scale=scale, con=con, week=week, label="calibrate")
        return list(result.outputs)

    return run


def resolve_program(program: str, settings: Settings) -> Any:
    """"champion" (the published champion, else the baseline judge) or a saved program path."""
    from judge.program import RelevanceJudge
    from judge.saving import load_program

    if program != "champion":
        return load_program(program, settings.scale)
    try:
        from tasks.champion import load_champion
    except ImportError:
        load_champion = None
    champion = load_champion(settings) if load_champion else None
    if champion is None:
        return RelevanceJudge(scale=settings.scale)
    return champion[0] if isinstance(champion, tuple) else champion


def resolve_lm(settings: Settings) -> Any:
    """The judge LM config, pointing at the embedded server when it is the local model."""
    from judge.local_model import with_local_endpoint

    return with_local_endpoint(settings, settings.judge_lm)


def calibrate_week(
    db_path: str | Path | None,
    week: str,
    *,
    program: str = "champion",
    settings: Settings | None = None,
    mode: Mode = "integer",
    out: str | Path | None = None,
) -> CalibrationResult:
    """Resolve program and LM, calibrate on the week, save the calibrator beside the artifacts."""
    from judgeflow.store import open_store

    settings = settings or load_settings()
    week = parse_week(week)
    judge_program, lm_cfg = resolve_program(program, settings), resolve_lm(settings)
    with open_store(db_path or settings.database) as con:
        judge = program_judge(judge_program, lm_cfg, scale=settings.scale, con=con, week=week)
        result = calibrate(con, week, judge, settings.scale, mode=mode)
    target = Path(out) if out else settings.home / "calibrators" / f"{week}-{result.calibrator.version}.json"
    return replace(result, path=str(save_calibrator(result.calibrator, target)))


@task(name="calibrate-judge")
def calibrate_task(db_path: str, week: str, program: str = "champion") -> dict[str, Any]:
    """Fit a calibrator for the champion on train and report dev metrics before and after."""
    return calibrate_week(db_path, week, program=program).to_dict()
