"""Validate one week's checked batch with Great Expectations, the checks pushed down to DuckDB.

The row-level rules run in DuckDB (sql/create_checked_*.sql) and decide the quarantine. Great
Expectations then checks, independently, that the rows about to be loaded satisfy the suite
and that the batch as a whole is acceptable (not empty, quarantine rate within
``settings.quarantine_threshold``). Its input is one row computed in DuckDB
(sql/select_batch_profile.sql over the checked_batch view: how many clean rows break each rule,
and the quarantine rate), so a 1M-row batch never becomes a 1M-row pandas frame, which GX used
to hash and scan (about 0.3 s per 1M rows).

Great Expectations is not thread-safe (see FIELD_NOTES): every validation holds one lock.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from judgeflow.config import Settings
from judgeflow.errors import ValidationFailedError
from judgeflow.store import sql
from judgeflow.weeks import week_bounds

_GX_LOCK = threading.Lock()
REQUIRED = {
    "annotations": (("query", "missing_query"), ("document", "missing_document"), ("rating", "rating_missing")),
    "production": (("query", "missing_query"), ("document", "missing_document")),
}


@dataclass
class Validation:
    """Per-expectation results of one source's batch and the batch-level problems found."""

    source: str
    results: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.problems


# How many clean rows break each rule, per source: each must be 0 (sql/select_batch_profile.sql).
RULE_COUNTS = {
    "annotations": (
        "rows_with_empty_query", "rows_with_document_out_of_bounds", "rows_sharing_an_id",
        "rows_outside_the_week", "rows_with_rating_outside_the_scale", "rows_sharing_a_pair",
    ),
    "production": (
        "rows_with_empty_query", "rows_with_document_out_of_bounds", "rows_sharing_an_id",
        "rows_outside_the_week",
    ),
}


def _row_suite(gx: Any, source: str) -> Any:
    gxe = gx.expectations
    suite = gx.ExpectationSuite(name=f"{source}-rows")
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="clean_rows", min_value=1))
    for column in RULE_COUNTS[source]:
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=0))
    return suite


def _batch_suite(gx: Any, settings: Settings) -> Any:
    suite = gx.ExpectationSuite(name="batch")
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="quarantine_rate", min_value=0.0, max_value=settings.quarantine_threshold
        )
    )
    return suite


def _run_suites(gx: Any, context: Any, suites: dict[str, Any], profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate each suite on the one-row profile; one result row per expectation."""
    import pandas as pd

    source = context.data_sources.add_pandas(name="profile")
    batch = source.add_dataframe_asset(name="profile-asset").add_batch_definition_whole_dataframe(
        "profile-batch"
    ).get_batch(batch_parameters={"dataframe": pd.DataFrame([profile])})
    rows = []
    for name, suite in suites.items():
        for result in batch.validate(suite, result_format="SUMMARY").results:
            config = result.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
            column = kwargs["column"]
            counted = column.startswith("rows_")
            rows.append(
                {
                    "expectation": f"{name}:{config.type}:{column}",
                    "success": bool(result.success),
                    "element_count": profile["clean_rows"] if name == "rows" else profile["rows_read"],
                    "unexpected_count": profile[column] if counted else None,
                    "details": {"kwargs": kwargs, "observed_value": profile[column]},
                }
            )
    return rows


def _required_columns(source: str, read: int, reasons: dict[str, int]) -> list[str]:
    """A required column no row carries (every row quarantined for lacking it)."""
    if read == 0:
        return []
    return [name for name, code in REQUIRED[source] if reasons.get(code, 0) == read]


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    source: str,
    week: str,
    settings: Settings,
    reasons: dict[str, int],
    read: int,
) -> Validation:
    """Run the suites on the checked batch of ``source`` ('annotations' or 'production')."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    start, end = week_bounds(week)
    params = {
        "week_start": start,
        "week_end": end,
        "max_document_chars": settings.max_document_chars,
        "scale_values": settings.scale.values if source == "annotations" else None,
    }
    con.execute(sql(f"create_{source}_batch"))
    try:
        cursor = con.execute(sql("select_batch_profile"), params)
        names = [d[0] for d in cursor.description]
        profile = dict(zip(names, cursor.fetchone(), strict=True))
    finally:
        con.execute("DROP VIEW IF EXISTS checked_batch")
    validation = Validation(source)
    missing = _required_columns(source, read, reasons)
    validation.results.append(
        {
            "expectation": "schema:required_columns",
            "success": not missing,
            "element_count": read,
            "unexpected_count": read if missing else 0,
            "details": {"missing": missing},
        }
    )
    with _GX_LOCK:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        suites = {"rows": _row_suite(gx, source)}
        if read:
            suites["batch"] = _batch_suite(gx, settings)
        validation.results += _run_suites(gx, context, suites, profile)
    validation.problems = _problems(source, week, settings, validation.results, missing, read, reasons)
    return validation


def _problems(
    source: str,
    week: str,
    settings: Settings,
    results: list[dict[str, Any]],
    missing: list[str],
    read: int,
    reasons: dict[str, int],
) -> list[str]:
    """One line per batch-level failure, each naming the problem and what to do."""
    if missing:
        return [
            f"{source} for {week}: required column {missing[0]!r} is in no row; "
            f"add it or map it with --field-map {missing[0]}=<source column>"
        ]
    failed = {r["expectation"]: r for r in results if not r["success"]}
    quarantined = sum(reasons.values())
    if read == 0:
        return [f"{source} for {week}: the source has no rows (empty week); check the source path and week"]
    problems = []
    if quarantined == read:
        top = ", ".join(f"{code}={n}" for code, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        return [f"{source} for {week}: all {read} rows quarantined ({top}); nothing to ingest, fix the source"]
    if "batch:expect_column_values_to_be_between:quarantine_rate" in failed:
        top = ", ".join(f"{code}={n}" for code, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        problems.append(
            f"{source} for {week}: {quarantined} of {read} rows quarantined "
            f"({quarantined / read:.1%} > quarantine_threshold {settings.quarantine_threshold:.0%}; top reasons {top}); "
            "fix the source or raise quarantine_threshold"
        )
    rows_failed = [name for name in failed if name.startswith("rows:")]
    if rows_failed and not problems:
        problems.append(
            f"{source} for {week}: rows that passed the SQL checks fail {rows_failed[0]}; "
            "this is a judgeflow bug, report it with the source file"
        )
    return problems


def store_validation(con: duckdb.DuckDBPyConnection, run_id: str, week: str, validation: Validation) -> None:
    """Write every expectation's outcome to validation_results."""
    for r in validation.results:
        con.execute(
            sql("insert_validation_result"),
            {
                "run_id": run_id,
                "week": week,
                "source": validation.source,
                "expectation": r["expectation"],
                "success": r["success"],
                "element_count": r["element_count"],
                "unexpected_count": r["unexpected_count"],
                "details": json.dumps(r["details"], default=str),
            },
        )


def raise_on_problems(validations: list[Validation]) -> None:
    """Raise ValidationFailedError with the first batch-level problem, if any."""
    for v in validations:
        if v.problems:
            raise ValidationFailedError(v.problems[0])


@task(name="validate-batch", cache_policy=NO_CACHE)
def validate_batch_task(
    con: duckdb.DuckDBPyConnection, source: str, week: str, settings: Settings, reasons: dict[str, int], read: int
) -> Validation:
    """Validate one source's checked batch with Great Expectations."""
    return validate_batch(con, source, week, settings, reasons, read)
