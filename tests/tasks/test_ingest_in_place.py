"""Production JSONL and Parquet are read in place, straight from the file (no staging table):
Parquet typed, JSONL line by line. These tests hold both to the same outcome as the staged
JSON-records path, row by row, bad rows included.

Each case writes the same rows as a JSON array file (staged), as JSONL and as Parquet (both
in place), ingests each into its own store and compares what was ingested and quarantined why.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgeflow.config import load_settings
from judgeflow.errors import InputError, ValidationFailedError
from judgeflow.store import open_store
from tasks.ingest import ingest_week
from tasks.sources import MAX_LINE_BYTES

WEEK = "2026-W47"  # Monday 2026-11-16 .. Sunday 2026-11-22


def good(i: int) -> dict:
    return {"query": f"vpn token reset {i}", "document": f"How to reset token {i}.",
            "sample_id": f"s{i}", "doc_id": f"d{i}", "seen_at": "2026-11-18 10:00:00"}


def write_all(tmp_path, rows: list[dict], schema: pa.Schema | None = None):
    array, jsonl, parquet = tmp_path / "prod.json", tmp_path / "prod.jsonl", tmp_path / "prod.parquet"
    array.write_text(json.dumps(rows, default=str))
    jsonl.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), parquet)
    return array, jsonl, parquet


def outcome(db_path, source) -> tuple[dict, list, list]:
    summary = ingest_week(db_path, WEEK, production=source, settings=load_settings(quarantine_threshold=1.0))
    with open_store(db_path) as con:
        ingested = con.execute(
            "SELECT source_row, sample_id, query, document, doc_id, seen_at, metadata::VARCHAR "
            "FROM production_samples ORDER BY source_row"
        ).fetchall()
        quarantined = con.execute("SELECT source_row, reason_code FROM quarantine ORDER BY source_row").fetchall()
    return summary, ingested, quarantined


def compare(tmp_path, rows, schema=None):
    array, jsonl, parquet = write_all(tmp_path, rows, schema)
    staged = outcome(tmp_path / "array.duckdb", array)
    assert staged[0]["runs"]["production"]["files"][0].get("read") is None
    for name, source in (("jsonl", jsonl), ("parquet", parquet)):
        in_place = outcome(tmp_path / f"{name}.duckdb", source)
        assert in_place[0]["runs"]["production"]["files"][0].get("read") == "in place"
        assert in_place[1] == staged[1], name
        assert in_place[2] == staged[2], name
        counts = in_place[0]["production"]
        assert counts["ingested"] + counts["quarantined"] == counts["read"] == len(rows)
    return in_place


def test_clean_and_bad_string_rows_agree_with_the_jsonl_path(tmp_path):
    rows = [good(i) for i in range(6)]
    rows[1] |= {"document": "   "}  # empty_document
    rows[2] |= {"query": None}  # missing_query
    rows[3] |= {"seen_at": "2026-12-01 00:00:00"}  # wrong_week
    rows[4] |= {"seen_at": "yesterday"}  # bad_timestamp
    rows += [good(0) | {"document": "other text"}]  # duplicate sample_id s0
    _, ingested, quarantined = compare(tmp_path, rows)
    assert [r for _, r in quarantined] == ["empty_document", "missing_query", "wrong_week", "bad_timestamp", "duplicate_id"]
    assert [r[0] for r in ingested] == [1, 6]


def test_a_document_over_the_limit_and_sql_looking_text(tmp_path):
    rows = [good(i) for i in range(5)]
    rows[0] |= {"document": "x" * 200_001}  # max_document_chars is 200,000
    rows[1] |= {"query": "'; DROP TABLE production_samples; --"}
    rows[2] |= {"document": "\u00e9" * 200_000}  # 400,000 bytes but 200,000 characters: in
    rows[3] |= {"document": "\u00e9" * 200_001}
    _, ingested, quarantined = compare(tmp_path, rows)
    assert quarantined == [(1, "document_too_long"), (4, "document_too_long")]
    assert ingested[0][2] == "'; DROP TABLE production_samples; --"
    assert [r[0] for r in ingested] == [2, 3, 5]


def test_a_number_where_text_belongs_is_a_wrong_type(tmp_path):
    # A Parquet column has one type: every row is a wrong_type, so the batch stops, on both paths.
    rows = [{"query": 42, "document": "numbers are not queries"}, {"query": 7, "document": "another"}]
    array, jsonl, parquet = write_all(tmp_path, rows)
    for name, source in (("a", array), ("j", jsonl), ("p", parquet)):
        with pytest.raises(ValidationFailedError, match=r"all 2 rows quarantined \(wrong_type=2\)"):
            ingest_week(tmp_path / f"{name}.duckdb", WEEK, production=source)


def test_missing_optional_columns_read_as_null_and_extra_columns_are_ignored(tmp_path):
    rows = [{"query": f"q{i}", "document": f"d{i}", "surprise": i} for i in range(3)]
    _, ingested, quarantined = compare(tmp_path, rows)
    assert quarantined == []
    assert [r[4] for r in ingested] == [None, None, None]  # doc_id


def test_a_missing_document_column_stops_the_batch(tmp_path):
    rows = [{"query": f"q{i}"} for i in range(3)]
    _, _, parquet = write_all(tmp_path, rows)
    with pytest.raises(ValidationFailedError, match="required column 'document'"):
        ingest_week(tmp_path / "p.duckdb", WEEK, production=parquet)


def test_an_object_or_a_list_where_an_id_or_a_time_belongs_is_a_wrong_type(tmp_path):
    rows = [good(0), good(1) | {"sample_id": {"a": 1}}, good(2) | {"doc_id": [1, 2]}, good(3) | {"seen_at": {"t": 1}}]
    array, jsonl, _ = write_all(tmp_path, rows[:1])
    array.write_text(json.dumps(rows))
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for source in (array, jsonl):
        _, ingested, quarantined = outcome(tmp_path / f"{source.suffix[1:]}.duckdb", source)
        assert quarantined == [(2, "wrong_type"), (3, "wrong_type"), (4, "wrong_type")], source.name
        assert [r[0] for r in ingested] == [1]
    # A Parquet column has one type: a list column of doc ids makes every row a wrong_type.
    pq.write_table(pa.Table.from_pylist([{"query": "q", "document": "d", "doc_id": [1]}] * 2), tmp_path / "l.parquet")
    with pytest.raises(ValidationFailedError, match=r"all 2 rows quarantined \(wrong_type=2\)"):
        ingest_week(tmp_path / "l.duckdb", WEEK, production=tmp_path / "l.parquet")


def test_nested_metadata_is_stored_as_a_json_object(tmp_path):
    rows = [good(i) | {"metadata": {"rank": i, "source": "wiki"}} for i in range(3)]
    _, ingested, quarantined = compare(tmp_path, rows)
    assert quarantined == []
    assert json.loads(ingested[2][6]) == {"rank": 2, "source": "wiki"}


def test_typed_timestamps_with_and_without_a_zone(tmp_path):
    naive = [{"query": f"q{i}", "document": f"d{i}", "seen_at": datetime(2026, 11, 18, 10, i)} for i in range(2)]
    naive.append({"query": "late", "document": "d", "seen_at": datetime(2026, 11, 23, 0, 0)})
    pq.write_table(pa.Table.from_pylist(naive), tmp_path / "naive.parquet")
    _, ingested, quarantined = outcome(tmp_path / "a.duckdb", tmp_path / "naive.parquet")
    assert quarantined == [(3, "wrong_week")]
    assert [r[5] for r in ingested] == [datetime(2026, 11, 18, 10, 0), datetime(2026, 11, 18, 10, 1)]

    zoned = [{"query": "q", "document": "d", "seen_at": datetime(2026, 11, 22, 23, 30, tzinfo=UTC)}]
    pq.write_table(pa.Table.from_pylist(zoned), tmp_path / "zoned.parquet")
    _, ingested, quarantined = outcome(tmp_path / "b.duckdb", tmp_path / "zoned.parquet")
    assert quarantined == [] and ingested[0][5] == datetime(2026, 11, 22, 23, 30)  # UTC is the default zone


def test_a_field_map_takes_the_records_path_and_still_reads_parquet(tmp_path):
    rows = [{"q": f"q{i}", "body": f"d{i}"} for i in range(3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "mapped.parquet")
    summary = ingest_week(tmp_path / "m.duckdb", WEEK, production=tmp_path / "mapped.parquet",
                          field_map={"query": "q", "document": "body"})
    assert summary["production"]["ingested"] == 3
    assert summary["runs"]["production"]["files"][0].get("read") is None


def test_a_file_that_is_not_parquet_gives_a_one_line_error(tmp_path):
    (tmp_path / "fake.parquet").write_text("this is not parquet\n")
    with pytest.raises(ValueError, match=r"cannot read .*fake\.parquet.* as parquet"):
        ingest_week(tmp_path / "x.duckdb", WEEK, production=tmp_path / "fake.parquet")


def test_jsonl_line_numbers_survive_blank_lines_rejected_lines_and_a_parallel_read(tmp_path):
    # ~40 MB, so DuckDB reads it in many parallel chunks: the numbering must still follow the file.
    lines = [json.dumps(good(i) | {"document": f"{i} " + "lorem ipsum " * 30}) for i in range(100_000)]
    bad_at = {10: "{not json", 50_000: b"\xff\xfe broken utf-8", 99_990: json.dumps({"query": "", "document": "d"})}
    blank_at = {5, 70_000}
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as fh:
        for n in range(1, 100_001):  # n is the 1-based line number of the file
            if n in blank_at:
                fh.write(b"\n")
            value = bad_at.get(n, lines[n - 1])
            fh.write((value if isinstance(value, bytes) else value.encode()) + b"\n")
    summary, ingested, quarantined = outcome(tmp_path / "big.duckdb", path)
    assert summary["runs"]["production"]["files"][0]["reader"] == "lines"  # blank lines: no JSON reader
    offset = lambda n: n + sum(b <= n for b in blank_at)  # noqa: E731 - file line of data line n
    assert quarantined == [(offset(10), "malformed_json"), (offset(50_000), "invalid_utf8"), (offset(99_990), "missing_query")]
    assert summary["production"]["read"] == 100_000
    by_line = {row[0]: row[3] for row in ingested}
    for n in (1, 4, 5, 6, 11, 49_999, 50_001, 69_999, 70_000, 70_001, 100_000):
        assert by_line[offset(n)].startswith(f"{n - 1} "), n


def test_the_json_reader_numbers_every_line_of_a_file_read_in_parallel(tmp_path):
    # ~40 MB of clean lines, read by DuckDB's JSON reader in many parallel chunks.
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(good(i) | {"document": f"{i} " + "lorem ipsum " * 30}) + "\n" for i in range(100_000)))
    summary, ingested, quarantined = outcome(tmp_path / "big.duckdb", path)
    assert summary["runs"]["production"]["files"][0]["reader"] == "json records"
    assert quarantined == [] and len(ingested) == 100_000
    assert all(document.startswith(f"{line - 1} ") for line, _, _, document, *_ in ingested)


# Files the JSON reader reads (its rows are kept) and files it must leave to the line reader,
# each with good lines around one odd line. The line reader is the reference: both must store
# the same rows and quarantine the same lines with the same reason, message and raw text.
GOOD_LINES = [json.dumps(good(i)) for i in range(3)]
JSON_RECORD_FILES = {
    "escapes and unicode": '{"query": "caf\\u00e9 \\"q\\" \\\\ \\n", "document": "l\u00ednea \u2713 \U0001f600"}',
    "spaces inside a record": '{ "query" : "q" ,  "document" : "d" , "extra" : [1, 2] }',
    "an array line": "[1, 2]",
    "a string line": '"just text"',
    "a number line": "5",
    "a null line": "null",
    "an empty object": "{}",
    "a duplicate key": '{"query": "first", "query": "second", "document": "d"}',
    "a trailing comma": '{"query": "q", "document": "d",}',
    "NaN in metadata": '{"query": "q", "document": "d", "metadata": {"x": NaN}}',
    "wrong types": '{"query": 5, "document": true}',
    "an object where an id belongs": '{"query": "q", "document": "d", "sample_id": {"a": 1}}',
    "a given quarantine reason": '{"query": "q", "document": "d", "quarantine_reason": "bad_source"}',
    "deep nesting": '{"query": "q", "document": "d", "metadata": {"a": ' + "[" * 500 + "]" * 500 + "}}",
}
LINE_READER_FILES = {
    "a blank line": "",
    "a whitespace line": "   \t ",
    "leading whitespace": '   {"query": "q", "document": "d"}',
    "trailing whitespace": '{"query": "q", "document": "d"}   ',
    "not JSON": "{not json",
    "two records on a line": '{"query": "a", "document": "d"} {"query": "b", "document": "d"}',
    "a comment": '{"query": "q", "document": "d"} // note',
    "a raw tab in a string": '{"query": "a\tb", "document": "d"}',
    "a byte-order mark": '\ufeff{"query": "q", "document": "d"}',
}


def jsonl_outcome(tmp_path, name, data: bytes, *, json_reader: bool, monkeypatch) -> tuple:
    import tasks.ingest

    with monkeypatch.context() as patch:
        if not json_reader:
            patch.setattr(tasks.ingest, "_check_jsonl_records", lambda *args: False)
        folder = tmp_path / name
        folder.mkdir()
        path = folder / ("prod.jsonl.gz" if name.endswith(".gz") else "prod.jsonl")
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        try:
            summary = ingest_week(folder / "db.duckdb", WEEK, production=path, settings=load_settings(quarantine_threshold=1.0))
        except InputError as exc:  # the line reader's error for a file it cannot split into lines
            return "error", str(exc).replace(str(folder), "<folder>")
    with open_store(folder / "db.duckdb") as con:
        ingested = con.execute(
            "SELECT source_row, sample_id, query, document, doc_id, seen_at, metadata::VARCHAR "
            "FROM production_samples ORDER BY source_row"
        ).fetchall()
        quarantined = con.execute("SELECT source_row, reason_code, message, raw_row FROM quarantine ORDER BY source_row").fetchall()
    return summary["runs"]["production"]["files"][0]["reader"], summary["production"], ingested, quarantined


def odd_files() -> list[tuple[str, bytes, str]]:
    """(name, file bytes, the reader expected) for every odd line, plus whole-file cases."""
    cases = []
    for readers, odd in (("json records", JSON_RECORD_FILES), ("lines", LINE_READER_FILES)):
        for name, line in odd.items():
            text = "\n".join([GOOD_LINES[0], line, *GOOD_LINES[1:]]) + "\n"
            cases.append((name, text.encode(), readers))
    good_text = "\n".join(GOOD_LINES)
    cases += [
        ("no line feed after the last line", good_text.encode(), "json records"),
        ("CRLF line ends", good_text.replace("\n", "\r\n").encode() + b"\r\n", "lines"),
        ("a blank last line", good_text.encode() + b"\n\n", "lines"),
        ("invalid UTF-8", good_text.encode() + b'\n{"query": "q\xff", "document": "d"}\n', "lines"),
        ("a truncated last line", good_text.encode() + b'\n{"query": "q", "docu', "lines"),
        ("a line longer than the line reader takes", good_text.encode() + b'\n{"query": "q", "document": "'
         + b"x" * MAX_LINE_BYTES + b'"}\n', "lines"),
        ("a lone carriage return", good_text.replace("\n", "\r", 1).encode() + b"\n", "error"),
        ("compressed.gz", good_text.encode() + b"\n", "lines"),
    ]
    return cases


@pytest.mark.parametrize(("name", "data", "reader"), odd_files(), ids=[c[0] for c in odd_files()])
def test_the_json_reader_keeps_its_rows_only_where_it_reads_what_the_line_reader_reads(tmp_path, monkeypatch, name, data, reader):
    fast = jsonl_outcome(tmp_path, name, data, json_reader=True, monkeypatch=monkeypatch)
    lines = jsonl_outcome(tmp_path, name + "-lines", data, json_reader=False, monkeypatch=monkeypatch)
    if reader == "error":  # both fail with the line reader's one-line error
        assert fast == lines and "cannot read" in fast[1]
        return
    assert fast[0] == reader and lines[0] == "lines"
    assert fast[1:] == lines[1:]
    counts = fast[1]
    assert counts["ingested"] + counts["quarantined"] == counts["read"] >= 3


# (seen_at text, the wall time stored in Europe/Berlin, UTC+1 in November)
STAMPS = [
    ("2026-11-18 10:00:00", datetime(2026, 11, 18, 10, 0)),  # no zone: already local
    ("2026-11-18", datetime(2026, 11, 18, 0, 0)),  # a date is not an offset of -18 hours
    ("2026-11-18 10:00:00Z", datetime(2026, 11, 18, 11, 0)),
    ("2026-11-18 10:00:00+05", datetime(2026, 11, 18, 6, 0)),  # an hour-only offset
    ("2026-11-18T10:00:00+0530", datetime(2026, 11, 18, 5, 30)),
    ("2026-11-18T10:00:00.250+05:30", datetime(2026, 11, 18, 5, 30, 0, 250000)),
    ("2026-11-18 10:00:00-05", datetime(2026, 11, 18, 16, 0)),
    ("2026-11-18 10:00:00 UTC", datetime(2026, 11, 18, 11, 0)),  # a named zone
    ("2026-11-18 10:00:00 America/New_York", datetime(2026, 11, 18, 16, 0)),
]


def test_every_reader_parses_a_timestamp_text_the_same_way(tmp_path):
    settings = load_settings(quarantine_threshold=1.0, timezone="Europe/Berlin")
    rows = [good(i) | {"seen_at": text} for i, (text, _) in enumerate(STAMPS)]
    expected = [(i + 1, wall) for i, (_, wall) in enumerate(STAMPS)]
    for source in write_all(tmp_path, rows):
        db = tmp_path / f"{source.suffix[1:]}.duckdb"
        summary = ingest_week(db, WEEK, production=source, settings=settings)
        assert summary["production"]["quarantined"] == 0, source.name
        with open_store(db) as con:
            stored = con.execute("SELECT source_row, seen_at FROM production_samples ORDER BY source_row").fetchall()
        assert stored == expected, source.name

    annotations = tmp_path / "annotations.jsonl"
    annotations.write_text("".join(
        json.dumps(row | {"rating": 3, "annotation_id": f"a{i}", "created_at": row["seen_at"]}) + "\n"
        for i, row in enumerate(rows)
    ))
    ingest_week(tmp_path / "annotations.duckdb", WEEK, annotations=annotations, settings=settings)
    with open_store(tmp_path / "annotations.duckdb") as con:
        stored = con.execute("SELECT source_row, created_at FROM annotations ORDER BY source_row").fetchall()
    assert stored == expected


def test_a_trailing_word_that_is_no_zone_is_a_bad_timestamp_not_dropped(tmp_path):
    # DuckDB's TIMESTAMP cast would read '10:00:00 PM' as 10:00 and drop the word.
    rows = [good(0), good(1) | {"seen_at": "2026-11-18 10:00:00 PM"}]
    _, ingested, quarantined = compare(tmp_path, rows)
    assert [r[0] for r in ingested] == [1] and quarantined == [(2, "bad_timestamp")]
