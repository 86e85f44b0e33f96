"""The bad-row catalogue: each kind of bad input row lands in quarantine with its reason code,
and ingested + quarantined = read holds every time.

Each case writes a small source of good rows plus the bad one and ingests it with
quarantine_threshold=1.0, so the batch-level rate check stays out of the way (test_ingest.py
covers it). Stays away from Prefect, the CLI and idempotency.
"""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from judgeflow.config import load_settings
from judgeflow.store import open_store
from tasks.ingest import ingest_week

WEEK = "2026-W47"  # Monday 2026-11-16 .. Sunday 2026-11-22


def good_rows(n: int = 5) -> list[dict]:
    return [
        {"query": f"how do I reset my vpn token {i}", "document": f"Reset guide number {i}.", "rating": 1 + i % 5,
         "annotator": "rater_ana", "created_at": "2026-11-17T09:00:00"}
        for i in range(n)
    ]


def write_jsonl(path, rows) -> None:
    with open(path, "wb") as fh:
        for row in rows:
            fh.write(row if isinstance(row, bytes) else (json.dumps(row) + "\n").encode())


def ingest(db_path, source, **settings):
    return ingest_week(db_path, WEEK, annotations=source, settings=load_settings(quarantine_threshold=1.0, **settings))


def assert_invariant(counts) -> None:
    assert counts["ingested"] + counts["quarantined"] == counts["read"]
    assert sum(counts["reasons"].values()) == counts["quarantined"]


def bad(**fields) -> dict:
    row = {"query": "bad row query", "document": "bad row document", "rating": 3, "annotator": "rater_bo"}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not _ABSENT}


_ABSENT = object()

CASES = {
    "rating_zero": (bad(rating=0), "rating_out_of_range"),
    "rating_six": (bad(rating=6), "rating_out_of_range"),
    "rating_four_and_a_half": (bad(rating=4.5), "rating_not_integer"),
    "rating_five_as_a_word": (bad(rating="five"), "rating_not_integer"),
    "rating_null": (bad(rating=None), "rating_missing"),
    "rating_absent": (bad(rating=_ABSENT), "rating_missing"),
    "rating_boolean": (bad(rating=True), "wrong_type"),
    "query_absent": (bad(query=_ABSENT), "missing_query"),
    "query_whitespace": (bad(query=" \t\u00a0 "), "missing_query"),
    "query_a_number": (bad(query=12345), "wrong_type"),
    "document_empty": (bad(document=""), "empty_document"),
    "document_whitespace": (bad(document="   \n "), "empty_document"),
    "document_absent": (bad(document=_ABSENT), "missing_document"),
    "document_an_object": (bad(document={"text": "nested"}), "wrong_type"),
    "document_one_megabyte": (bad(document="x" * 1_000_000), "document_too_long"),
    "created_in_another_week": (bad(created_at="2026-11-09T12:00:00"), "wrong_week"),
    "created_at_not_a_timestamp": (bad(created_at="last tuesday"), "bad_timestamp"),
    "modified_at_not_a_timestamp": (bad(modified_at="a while ago"), "bad_timestamp"),
    "annotator_a_list": (bad(annotator=["a", "b"]), "wrong_type"),
    "a_json_array_not_an_object": (b"[1, 2, 3]\n", "not_an_object"),
    "not_json_at_all": (b"query=foo, rating=3\n", "malformed_json"),
    "invalid_utf8_bytes": (b'{"query": "caf\xe9", "document": "d", "rating": 3}\n', "invalid_utf8"),
    "line_longer_than_the_reader_takes": (
        b'{"query": "q", "document": "' + b"x" * (9 << 20) + b'", "rating": 3}\n', "line_too_long"
    ),
    "control_character_splitting_the_line": (b'{"query": "a\x01b", "document": "d", "rating": 3}\n', "malformed_json"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_bad_jsonl_row_is_quarantined_with_its_reason(case, tmp_path, db_path):
    row, reason = CASES[case]
    path = tmp_path / "week.jsonl"
    write_jsonl(path, [*good_rows(), row])
    counts = ingest(db_path, path)["annotations"]
    assert counts["reasons"] == {reason: 1}
    assert counts["read"] == 6
    assert_invariant(counts)
    with open_store(db_path) as con:
        (stored,) = con.execute("SELECT reason_code FROM quarantine WHERE source_row = 6").fetchone()
    assert stored == reason


def test_a_truncated_last_line_is_quarantined_not_dropped(tmp_path, db_path):
    path = tmp_path / "week.jsonl"
    write_jsonl(path, [*good_rows(), b'{"query": "cut off", "docu'])
    counts = ingest(db_path, path)["annotations"]
    assert counts == {"read": 6, "ingested": 5, "quarantined": 1, "reasons": {"malformed_json": 1}}


def test_duplicate_ids_keep_the_first_row_and_quarantine_the_rest(tmp_path, db_path):
    rows = good_rows()
    rows += [dict(rows[0], rating=1), dict(rows[0])]
    write_jsonl(tmp_path / "week.jsonl", rows)
    counts = ingest(db_path, tmp_path / "week.jsonl")["annotations"]
    assert counts["reasons"] == {"duplicate_id": 2}
    assert_invariant(counts)
    with open_store(db_path) as con:
        kept = con.execute("SELECT source_row, rating FROM annotations WHERE query = $q", {"q": rows[0]["query"]}).fetchall()
    assert kept == [(1, rows[0]["rating"])]


def test_the_same_query_doc_and_annotator_under_another_id_is_a_duplicate_pair(tmp_path, db_path):
    rows = good_rows()
    twin = dict(rows[1], annotation_id="explicit-id", query=rows[1]["query"].upper() + "  ")
    write_jsonl(tmp_path / "week.jsonl", [*rows, twin])
    counts = ingest(db_path, tmp_path / "week.jsonl")["annotations"]
    assert counts["reasons"] == {"duplicate_pair": 1}
    assert_invariant(counts)


def test_sql_looking_strings_are_stored_verbatim_and_harm_nothing(tmp_path, db_path):
    evil = "'); DROP TABLE annotations; -- \" OR 1=1; $week"
    write_jsonl(tmp_path / "week.jsonl", [*good_rows(), bad(query=evil, document=evil, annotation_id=evil)])
    counts = ingest(db_path, tmp_path / "week.jsonl")["annotations"]
    assert counts == {"read": 6, "ingested": 6, "quarantined": 0, "reasons": {}}
    with open_store(db_path) as con:
        assert con.execute("SELECT query, document FROM annotations WHERE annotation_id = $id", {"id": evil}).fetchone() == (evil, evil)


def test_extra_columns_are_ignored_and_the_row_is_ingested(tmp_path, db_path):
    write_jsonl(tmp_path / "week.jsonl", [*good_rows(), bad(team="search", score_v2=0.3, nested={"a": [1]})])
    counts = ingest(db_path, tmp_path / "week.jsonl")["annotations"]
    assert counts == {"read": 6, "ingested": 6, "quarantined": 0, "reasons": {}}


def test_an_id_already_stored_for_another_week_is_a_duplicate(tmp_path, db_path):
    write_jsonl(tmp_path / "w46.jsonl", [bad(annotation_id="a-1", created_at=None)])
    ingest_week(db_path, "2026-W46", annotations=tmp_path / "w46.jsonl", settings=load_settings(quarantine_threshold=1.0))
    write_jsonl(tmp_path / "w47.jsonl", [*good_rows(), bad(annotation_id="a-1", query="other")])
    counts = ingest(db_path, tmp_path / "w47.jsonl")["annotations"]
    assert counts["reasons"] == {"duplicate_id": 1}


def test_an_empty_file_reads_zero_rows_next_to_a_good_file(tmp_path, db_path):
    folder = tmp_path / "week"
    folder.mkdir()
    (folder / "a-empty.jsonl").write_bytes(b"")
    write_jsonl(folder / "b-good.jsonl", good_rows())
    summary = ingest(db_path, folder)
    assert summary["annotations"] == {"read": 5, "ingested": 5, "quarantined": 0, "reasons": {}}
    files = {f["uri"].rsplit("/", 1)[-1]: f["rows"] for f in summary["runs"]["annotations"]["files"]}
    assert files == {"a-empty.jsonl": 0, "b-good.jsonl": 5}


@pytest.mark.parametrize("delimiter,suffix", [(";", ".csv"), ("\t", ".tsv"), ("|", ".csv"), (",", ".csv")])
def test_csv_delimiters_are_detected(delimiter, suffix, tmp_path, db_path):
    frame = pd.DataFrame(good_rows())
    path = tmp_path / f"week{suffix}"
    frame.to_csv(path, sep=delimiter, index=False)
    summary = ingest(db_path, path)
    assert summary["annotations"] == {"read": 5, "ingested": 5, "quarantined": 0, "reasons": {}}
    assert summary["runs"]["annotations"]["files"][0]["delimiter"] == delimiter


def test_a_csv_row_with_the_wrong_column_count_is_quarantined_with_its_line(tmp_path, db_path):
    path = tmp_path / "week.csv"
    path.write_text("query,document,rating\nq1,doc one,3\nq2,doc two\nq3,\"doc, three\",4\nq4,d,5,extra\n")
    counts = ingest(db_path, path)["annotations"]
    assert counts == {"read": 4, "ingested": 2, "quarantined": 2, "reasons": {"malformed_csv": 2}}
    with open_store(db_path) as con:
        lines = con.execute("SELECT source_row FROM quarantine ORDER BY 1").fetchall()
        ingested = con.execute("SELECT source_row, document FROM annotations ORDER BY 1").fetchall()
    assert lines == [(3,), (5,)]
    assert ingested == [(2, "doc one"), (4, "doc, three")]


def test_parquet_and_gzipped_jsonl_rows_are_checked_the_same_way(tmp_path, db_path):
    folder = tmp_path / "week"
    folder.mkdir()
    pd.DataFrame([*good_rows(), {"query": "p", "document": "d", "rating": 9}]).to_parquet(folder / "a.parquet")
    with gzip.open(folder / "b.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(bad(rating=4.5, query="gz")) + "\n")
    counts = ingest(db_path, folder)["annotations"]
    assert counts["reasons"] == {"rating_out_of_range": 1, "rating_not_integer": 1}
    assert_invariant(counts)


def test_a_json_array_file_is_read_element_by_element(tmp_path, db_path):
    path = tmp_path / "week.json"
    path.write_text(json.dumps([*good_rows(), bad(rating=6), "just a string"]))
    counts = ingest(db_path, path)["annotations"]
    assert counts["reasons"] == {"rating_out_of_range": 1, "not_an_object": 1}
    assert_invariant(counts)


def test_a_reason_given_by_the_source_is_kept(tmp_path, db_path):
    row = bad(quarantine_reason="unknown_doc_id", quarantine_message="doc d9 is not in the passages file")
    write_jsonl(tmp_path / "week.jsonl", [*good_rows(), row])
    counts = ingest(db_path, tmp_path / "week.jsonl")["annotations"]
    assert counts["reasons"] == {"unknown_doc_id": 1}


def test_bad_production_rows_are_quarantined_too(tmp_path, db_path):
    rows = [{"query": f"q{i}", "document": f"d{i}", "seen_at": "2026-11-18 10:00:00", "metadata": {"rank": i}} for i in range(4)]
    rows += [{"query": "q", "document": "d", "metadata": "not an object"},
             {"query": "q", "document": "d", "seen_at": "2026-12-01T00:00:00+01:00"},
             {"query": "", "document": "d"}]
    write_jsonl(tmp_path / "prod.jsonl", rows)
    summary = ingest_week(db_path, WEEK, production=tmp_path / "prod.jsonl", settings=load_settings(quarantine_threshold=1.0))
    counts = summary["production"]
    assert counts["reasons"] == {"wrong_type": 1, "wrong_week": 1, "missing_query": 1}
    assert_invariant(counts)
    with open_store(db_path) as con:
        assert con.execute("SELECT metadata->>'rank' FROM production_samples ORDER BY source_row LIMIT 1").fetchone() == ("0",)
