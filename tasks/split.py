"""Split: sticky train/dev/test assignment per normalised query.

A query key's split is drawn once from its hash and stored in ``splits``; later weeks only add
keys they have not seen, so an item once in test stays in test even if the ratios change, and
every (query, document) pair of one query shares that query's split.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from judge.types import JudgeExample
from judgeflow.errors import InputError
from judgeflow.store import sql
from judgeflow.weeks import parse_week

SPLITS = ("train", "dev", "test")
DEFAULT_RATIOS = (0.70, 0.15, 0.15)
_BUCKETS = 16**12  # the first 12 hex digits of the key, as a fraction of this


def normalise_query(query: str) -> str:
    """The text a query key hashes; see :func:`query_key` for the exact steps."""
    if not isinstance(query, str):
        raise InputError(f"query must be a string, got {query!r}; drop or fix the row")
    return " ".join(unicodedata.normalize("NFKC", query).casefold().split())


def query_key(query: str) -> str:
    """sha256 hex digest of the normalised query, the unit every split is assigned to.

    Normalisation, in this order:
    1. Unicode NFKC (``unicodedata.normalize("NFKC", q)``): full-width letters, ligatures and
       compatibility characters fold to their plain forms.
    2. Python ``str.casefold()`` (full Unicode case folding: "Straße" -> "strasse"; this is
       not SQL ``lower()``).
    3. Split on runs of Unicode whitespace as Python ``str.split()`` with no argument does
       (every character with ``str.isspace()``, including NBSP, tabs, newlines and
       U+001C-U+001F) and join the pieces with one ASCII space; this also strips both ends.
    The digest is taken over the UTF-8 bytes and written as 64 lowercase hex digits.

    DuckDB has neither NFKC nor full case folding, so SQL cannot reproduce this exactly:
    compute the key in Python, or call :func:`register_query_key` and use the SQL function
    ``judgeflow_query_key(query)`` it registers on the connection.
    """
    return hashlib.sha256(normalise_query(query).encode("utf-8")).hexdigest()


def register_query_key(con: duckdb.DuckDBPyConnection) -> None:
    """Register ``judgeflow_query_key(VARCHAR) -> VARCHAR`` (this module's key) on ``con``."""
    try:
        con.create_function(
            "judgeflow_query_key",
            query_key,
            [duckdb.sqltypes.VARCHAR],
            duckdb.sqltypes.VARCHAR,
            side_effects=False,
        )
    except (duckdb.CatalogException, duckdb.NotImplementedException):
        pass  # already registered on this connection


def check_ratios(ratios: Any) -> tuple[float, float, float]:
    """Three non-negative fractions (train, dev, test) summing to 1, else InputError."""
    try:
        values = tuple(float(r) for r in ratios)
    except (TypeError, ValueError) as exc:
        raise InputError(f"split ratios must be three numbers like (0.7, 0.15, 0.15), got {ratios!r}") from exc
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise InputError(
            f"split ratios must be three non-negative fractions (train, dev, test) summing to 1, got {ratios!r}"
        )
    return values  # type: ignore[return-value]


def _boundaries(ratios: tuple[float, float, float]) -> tuple[float, float]:
    return ratios[0], ratios[0] + ratios[1]


def split_for_key(key: str, ratios: Any = DEFAULT_RATIOS) -> str:
    """The split a new key would get: int(key[:12], 16) / 16**12 against cumulative ratios.

    Mirrors sql/insert_new_splits.sql; it says what a fresh key gets, not what a stored key has.
    """
    train_below, dev_below = _boundaries(check_ratios(ratios))
    bucket = int(key[:12], 16) / _BUCKETS
    if bucket < train_below:
        return "train"
    return "dev" if bucket < dev_below else "test"


def _per_split(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    counts = dict.fromkeys(SPLITS, 0)
    for split, n in pairs:
        counts[split] += n
    return counts


def assign_splits(
    con: duckdb.DuckDBPyConnection, week: str, ratios: Any = DEFAULT_RATIOS
) -> dict[str, Any]:
    """Store a split for each of the week's query keys that has none; never change stored ones.

    Returns ``{"week", "new": {split: n}, "total": {split: n}}`` counted in query keys.
    """
    week = parse_week(week)
    train_below, dev_below = _boundaries(check_ratios(ratios))
    inserted = con.execute(
        sql("insert_new_splits"),
        {"week": week, "train_below": train_below, "dev_below": dev_below},
    ).fetchall()
    total = con.execute(sql("count_splits")).fetchall()
    new = _per_split((split, 1) for (split,) in inserted)
    return {"week": week, "new": new, "total": _per_split(total)}


@task(name="assign-splits", cache_policy=NO_CACHE)
def assign_splits_task(
    con: duckdb.DuckDBPyConnection, week: str, ratios: Any = DEFAULT_RATIOS
) -> dict[str, Any]:
    """Assign sticky splits to the week's new query keys."""
    return assign_splits(con, week, ratios)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


def _text(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def load_examples(
    con: duckdb.DuckDBPyConnection, split: str, week: str, *, limit: int | None = None
) -> list[JudgeExample]:
    """Annotations of weeks up to and including ``week`` whose query key is in ``split``."""
    split, week = _check_split(split), parse_week(week)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InputError(f"limit must be a non-negative integer or None, got {limit!r}")
    rows = con.execute(
        sql("select_examples"), {"split": split, "week": week, "row_limit": limit}
    ).fetchall()
    return [
        JudgeExample(
            id=ann_id,
            query=query,
            document=document,
            gold=rating,
            explanation=explanation,
            title=title,
            doc_type=doc_type,
            modified_at=_text(modified_at),
            doc_id=doc_id,
            annotator=annotator,
            week=row_week,
        )
        for (ann_id, query, document, rating, explanation, title, doc_type, modified_at, doc_id, annotator, row_week) in rows
    ]


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def split_snapshot(con: duckdb.DuckDBPyConnection, week: str) -> dict[str, Any]:
    """Rows per split (weeks up to ``week``) and a sha256 of each split's sorted example ids.

    The digest is over the ids sorted by code point and joined with "\\n", so
    ``hashlib.sha256("\\n".join(sorted(ids)).encode())`` reproduces it outside the store.
    """
    week = parse_week(week)
    found = {
        split: {"rows": rows, "ids_sha256": digest}
        for split, rows, digest in con.execute(sql("select_split_snapshot"), {"week": week}).fetchall()
    }
    empty = {"rows": 0, "ids_sha256": _EMPTY_SHA256}
    return {"week": week, "splits": {s: found.get(s, empty) for s in SPLITS}}
