"""Evaluate a judge program on labelled examples: concurrent, retried, cached, stored.

``evaluate_program`` is the plain function (the CLI, calibration and the optimizers call it);
``evaluate_task`` is the Prefect task the weekly flow calls for champion and candidate.

Each example is judged in a worker thread (``with dspy.context(lm=lm): judge_one(...)``);
transient endpoint failures are retried with backoff honouring Retry-After, and an example
whose attempts all fail becomes ``JudgeOutput(status="lm_error")``: neither a parse failure
nor a score. Too many of those stop the evaluation with ``LMErrorRateExceeded`` instead of
reporting a skewed NMSE. Outputs are cached by (program state, LM identity, scale, example
content), so re-evaluating an unchanged program on unchanged data makes no LM call; the cache
is written as results arrive, so a crashed run resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dspy
import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from judge.lm import build_lm, lm_identity
from judge.scale import Scale
from judge.types import JudgeExample
from judgeflow.config import LMConfig
from judgeflow.errors import InputError
from judgeflow.store import connect
from tasks.evaluation.engine import EvalResult, LMErrorRateExceeded, Run, judge_with_retries, score
from tasks.evaluation.retry import RetryPolicy

__all__ = [
    "EvalResult",
    "LMErrorRateExceeded",
    "RetryPolicy",
    "evaluate_program",
    "evaluate_task",
    "judge_with_retries",
    "score",
]


def evaluate_program(
    program: Any,
    examples: Sequence[JudgeExample],
    lm_cfg: LMConfig,
    *,
    scale: Scale,
    db_path: str | Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    split: str | None = None,
    week: str | None = None,
    concurrency: int | None = None,
    use_cache: bool = True,
    lm_error_threshold: float = 0.02,
    progress: bool = True,
    label: str = "",
    retry: RetryPolicy | None = None,
    lm: dspy.LM | None = None,
) -> EvalResult:
    """Judge every example with ``program`` on ``lm_cfg``'s endpoint; store and score the outputs.

    The store is ``con`` if given, else ``db_path``, else the configured database. ``lm``
    overrides the LM built from ``lm_cfg`` (e.g. one carrying a CallBudget); ``lm_cfg``
    still names it in cache keys and stored rows. Raises LMErrorRateExceeded when more than
    ``lm_error_threshold`` of the examples end as lm_error (the predictions are stored first).
    """
    from judge.saving import program_hash

    examples = list(examples)
    concurrency = _check_args(examples, lm_cfg, concurrency, lm_error_threshold)
    retry = retry or RetryPolicy(max_retries=lm_cfg.max_retries)
    phash, identity = program_hash(program), lm_identity(lm_cfg)
    own_con = con is None
    if con is None:
        con = connect(db_path or _default_db())
    try:
        run = Run(
            program=program,
            examples=examples,
            scale=scale,
            con=con,
            program_hash=phash,
            identity=identity,
            lm=lm or build_lm(lm_cfg, role="judge"),
            retry=retry,
            label=label,
            split=split,
            week=week,
        )
        return run.execute(
            concurrency=concurrency,
            use_cache=use_cache,
            threshold=lm_error_threshold,
            progress=progress,
            endpoint=lm_cfg.api_base or lm_cfg.model,
        )
    finally:
        if own_con:
            con.close()


@task(name="evaluate", cache_policy=NO_CACHE, task_run_name="evaluate-{label}-{split}-{week}")
def evaluate_task(
    program: Any,
    lm_cfg: LMConfig,
    *,
    split: str,
    week: str,
    scale: Scale,
    db_path: str,
    label: str = "",
    limit: int | None = None,
    concurrency: int | None = None,
    lm_error_threshold: float = 0.02,
) -> EvalResult:
    """Score a program on one split of the examples up to a week and store every prediction."""
    from tasks.split import load_examples

    if lm_cfg.local and not lm_cfg.api_base:
        from judge.local_model import with_local_endpoint
        from judgeflow.config import load_settings

        lm_cfg = with_local_endpoint(load_settings(), lm_cfg)
    con = connect(db_path)
    try:
        examples = load_examples(con, split, week, limit=limit)
        return evaluate_program(
            program,
            examples,
            lm_cfg,
            scale=scale,
            con=con,
            split=split,
            week=week,
            concurrency=concurrency,
            lm_error_threshold=lm_error_threshold,
            progress=True,
            label=label,
        )
    finally:
        con.close()


def _check_args(examples: list[JudgeExample], cfg: LMConfig, concurrency: int | None, threshold: float) -> int:
    concurrency = cfg.concurrency if concurrency is None else concurrency
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be a positive integer, got {concurrency!r}")
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"lm_error_threshold must be a fraction 0-1, got {threshold!r}")
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"example ids must be unique within an evaluation, {dup!r} appears twice")
    return concurrency


def _default_db() -> Path:
    from judgeflow.config import load_settings

    return load_settings().database
