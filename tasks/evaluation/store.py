"""Where evaluations live in DuckDB: the prediction cache, eval_runs and predictions.

Only the calling thread touches the connection; workers hand their outputs back to it.
Rows are staged as Arrow tables and inserted by set-based SQL (sql/insert_*.sql).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from judge.types import JudgeExample, JudgeOutput
from judgeflow.store import sql, transaction

CACHE_KEY_VERSION = 1  # bump when the cached JudgeOutput layout changes

_CACHE_SCHEMA = pa.schema(
    [
        ("cache_key", pa.string()),
        ("program_hash", pa.string()),
        ("lm_identity", pa.string()),
        ("content_hash", pa.string()),
        ("status", pa.string()),
        ("rating", pa.int32()),
        ("explanation", pa.string()),
        ("error_kind", pa.string()),
        ("raw", pa.string()),
        ("reasoning", pa.string()),
        ("samples", pa.string()),
        ("spread", pa.float64()),
        ("usage_info", pa.string()),
    ]
)

_PREDICTION_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("example_id", pa.string()),
        ("program_hash", pa.string()),
        ("lm_identity", pa.string()),
        ("split", pa.string()),
        ("week", pa.string()),
        ("gold", pa.int32()),
        ("status", pa.string()),
        ("rating", pa.int32()),
        ("explanation", pa.string()),
        ("error_kind", pa.string()),
        ("raw", pa.string()),
        ("reasoning", pa.string()),
        ("samples", pa.string()),
        ("spread", pa.float64()),
        ("latency_s", pa.float64()),
        ("calls", pa.int32()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost", pa.float64()),
        ("cached", pa.bool_()),
        ("cache_key", pa.string()),
    ]
)


def content_hash(example: JudgeExample) -> str:
    """sha256 of what the judge sees of an example (not its id, gold label or annotator)."""
    seen = [example.query, example.document, example.title, example.doc_type, example.modified_at]
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False, default=str).encode()).hexdigest()


def cache_key(program_hash: str, lm_identity: str, scale: str, example_hash: str) -> str:
    """The prediction cache key: program state x LM endpoint and decoding x scale x content."""
    parts = [CACHE_KEY_VERSION, program_hash, lm_identity, scale, example_hash]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def load_cached(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> dict[str, JudgeOutput]:
    """The cached output of each key that has one."""
    if not keys:
        return {}
    rows = con.execute(sql("select_cached_predictions"), {"cache_keys": list(keys)}).fetchall()
    found = {}
    for key, status, rating, explanation, error_kind, raw, reasoning, samples, spread in rows:
        found[key] = JudgeOutput(
            status=status,
            rating=rating,
            explanation=explanation,
            error_kind=error_kind,
            raw=raw,
            reasoning=reasoning,
            samples=tuple(json.loads(samples)) if samples else (),
            spread=spread,
        )
    return found


@dataclass(frozen=True)
class CacheEntry:
    key: str
    content_hash: str
    output: JudgeOutput


def save_cached(
    con: duckdb.DuckDBPyConnection, entries: Iterable[CacheEntry], *, program_hash: str, lm_identity: str
) -> int:
    """Remember parsed outputs; lm_error outputs are never cached. Returns rows offered."""
    rows = [
        {
            "cache_key": e.key,
            "program_hash": program_hash,
            "lm_identity": lm_identity,
            "content_hash": e.content_hash,
            "status": e.output.status,
            "rating": e.output.rating,
            "explanation": e.output.explanation,
            "error_kind": e.output.error_kind,
            "raw": e.output.raw,
            "reasoning": e.output.reasoning,
            "samples": json.dumps(list(e.output.samples)) if e.output.samples else None,
            "spread": e.output.spread,
            "usage_info": json.dumps(e.output.usage or {}),
        }
        for e in entries
        if e.output.status != "lm_error"
    ]
    if rows:
        _insert_staged(con, "staged_cache", pa.Table.from_pylist(rows, schema=_CACHE_SCHEMA), "insert_prediction_cache")
    return len(rows)


def open_run(con: duckdb.DuckDBPyConnection, **values: Any) -> None:
    """Insert the eval_runs row in status 'running'."""
    con.execute(sql("insert_eval_run"), values)


def finish_run(
    con: duckdb.DuckDBPyConnection, *, run_id: str, predictions: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    """Store the run's predictions and its summary in one transaction."""
    table = pa.Table.from_pylist(predictions, schema=_PREDICTION_SCHEMA)
    with transaction(con):
        if predictions:
            _insert_staged(con, "staged_predictions", table, "insert_predictions")
        con.execute(sql("finish_eval_run"), {"run_id": run_id, **summary})


def fail_run(con: duckdb.DuckDBPyConnection, run_id: str, error: str, seconds: float) -> None:
    """Mark a run that stopped before producing results."""
    empty = {
        "n_ok": None,
        "n_parse_errors": None,
        "n_lm_errors": None,
        "calls": None,
        "cache_hits": None,
        "prompt_tokens": None,
        "completion_tokens": None,
        "cost": None,
        "metrics": None,
    }
    con.execute(
        sql("finish_eval_run"),
        {"run_id": run_id, **empty, "seconds": seconds, "status": "failed", "error": error[:2000]},
    )


def _insert_staged(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, statement: str) -> None:
    con.register(name, table)
    try:
        con.execute(sql(statement))
    finally:
        con.unregister(name)
