"""The Great Expectations suite on a checked batch: it judges the rows independently of the SQL
checks, reports per-expectation counts, and stays correct when called from several threads.

Works on hand-built ``checked_annotations`` tables, so it stays away from reading files and
from the load transaction (test_ingest.py covers those).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from judgeflow.config import load_settings
from judgeflow.errors import ValidationFailedError
from tasks.validate import raise_on_problems, store_validation, validate_batch

WEEK = "2026-W47"


def make_checked(con, ratings: list[int | None], reasons: list[str | None], ids: list[str] | None = None) -> None:
    """A checked_annotations table and its batch_query_keys, as check_source leaves them."""
    n = len(ratings)
    ids = ids or [f"id-{i}" for i in range(n)]
    con.execute(
        """
        CREATE OR REPLACE TABLE checked_annotations AS
        SELECT 'test://a' AS source_uri, i + 1 AS source_row, 'q' || i AS query, 'doc ' || i AS document,
               'd' || i AS doc_id, 'rater' AS annotator, TIMESTAMP '2026-11-17 10:00:00' AS created_at,
               $ratings[i + 1] AS rating, $reasons[i + 1] AS reason_code, $ids[i + 1] AS annotation_id
        FROM range($n) t(i)
        """,
        {"ratings": ratings, "reasons": reasons, "ids": ids, "n": n},
    )
    con.execute("CREATE OR REPLACE TABLE batch_query_keys AS SELECT 'q' || i AS query, 'k' || i AS query_key FROM range($n) t(i)", {"n": n})


def results_by_name(validation) -> dict:
    return {r["expectation"]: r for r in validation.results}


def test_a_clean_batch_meets_every_expectation(con):
    make_checked(con, [1, 2, 3, 4, 5] * 4, [None] * 20)
    validation = validate_batch(con, "annotations", WEEK, load_settings(), {}, 20)
    assert validation.success, validation.problems
    assert all(r["success"] for r in validation.results)
    rating = results_by_name(validation)["rows:expect_column_values_to_be_between:rows_with_rating_outside_the_scale"]
    assert (rating["element_count"], rating["unexpected_count"]) == (20, 0)


def test_rows_the_sql_checks_let_through_are_caught_by_the_suite(con):
    make_checked(con, [1, 2, 3, 9, 4], [None] * 5, ids=["a", "b", "c", "d", "a"])
    validation = validate_batch(con, "annotations", WEEK, load_settings(), {}, 5)
    failed = {name: r["unexpected_count"] for name, r in results_by_name(validation).items() if not r["success"]}
    assert failed == {
        "rows:expect_column_values_to_be_between:rows_with_rating_outside_the_scale": 1,
        "rows:expect_column_values_to_be_between:rows_sharing_an_id": 2,
    }
    with pytest.raises(ValidationFailedError, match="judgeflow bug"):
        raise_on_problems([validation])


def test_the_quarantine_rate_is_checked_against_the_threshold(con):
    make_checked(con, [3] * 10, [None] * 9 + ["rating_missing"])
    reasons = {"rating_missing": 1}
    assert validate_batch(con, "annotations", WEEK, load_settings(quarantine_threshold=0.10), reasons, 10).success
    strict = validate_batch(con, "annotations", WEEK, load_settings(quarantine_threshold=0.05), reasons, 10)
    assert strict.problems == [
        "annotations for 2026-W47: 1 of 10 rows quarantined (10.0% > quarantine_threshold 5%; "
        "top reasons rating_missing=1); fix the source or raise quarantine_threshold"
    ]


def test_results_are_stored_one_row_per_expectation(con):
    make_checked(con, [1, 2, 3], [None] * 3)
    validation = validate_batch(con, "annotations", WEEK, load_settings(), {}, 3)
    store_validation(con, "run-1", WEEK, validation)
    stored = con.execute("SELECT expectation, success, element_count FROM validation_results ORDER BY expectation").fetchall()
    assert len(stored) == len(validation.results) >= 9
    assert ("schema:required_columns", True, 3) in stored


def test_validations_from_several_threads_are_serialised_and_stay_correct(db_path):
    from judgeflow.store import connect

    con = connect(db_path)
    make_checked(con, [1, 2, 3, 4, 5, 6], [None] * 6)
    settings = load_settings()

    def run(_):
        cursor = con.cursor()
        return validate_batch(cursor, "annotations", WEEK, settings, {}, 6).problems

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(run, range(4)))
    con.close()
    assert all(problems and "judgeflow bug" in problems[0] for problems in outcomes)


def test_production_rows_breaking_each_rule_are_counted_in_duckdb(con):
    from judgeflow.store import sql

    con.execute(sql("create_checked_production"))
    long_document = "x" * (load_settings().max_document_chars + 1)
    rows = [  # (sample_id, query, document, seen_at, reason_code)
        ("s1", "q", "doc", "2026-11-17 10:00:00", None),
        ("s1", "q", "doc", "2026-11-17 11:00:00", None),  # a repeated id: both rows count
        ("s2", "", "doc", "2026-11-17 10:00:00", None),
        ("s3", "q", long_document, "2026-11-17 10:00:00", None),
        ("s4", "q", "doc", "2026-12-01 10:00:00", None),
        ("s5", "q", "", "2026-12-01 10:00:00", "empty_document"),  # quarantined: not counted
    ]
    for i, (sample_id, query, document, seen_at, reason) in enumerate(rows):
        con.execute(
            "INSERT INTO checked_production (source_uri, source_row, sample_id, query, document, seen_at, reason_code)"
            " VALUES ('test://p', $row, $id, $query, $document, $seen_at, $reason)",
            {"row": i + 1, "id": sample_id, "query": query, "document": document, "seen_at": seen_at, "reason": reason},
        )
    validation = validate_batch(con, "production", WEEK, load_settings(), {"empty_document": 1}, 6)
    counts = {name.split(":")[-1]: r["unexpected_count"] for name, r in results_by_name(validation).items()
              if name.startswith("rows:")}
    assert counts == {
        "clean_rows": None,
        "rows_with_empty_query": 1,
        "rows_with_document_out_of_bounds": 1,
        "rows_sharing_an_id": 2,
        "rows_outside_the_week": 1,
    }
    rate = results_by_name(validation)["batch:expect_column_values_to_be_between:quarantine_rate"]
    assert rate["details"]["observed_value"] == pytest.approx(1 / 6)
    assert not rate["success"]
