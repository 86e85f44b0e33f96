"""Probe, not product: how fast could ingest be if the documents were written only once?

The product path (tasks/ingest.py) checks rows into a temp table, validates, then copies the
clean rows into ``production_samples``: the documents are written twice. This probe times the
alternative the README's open notes discuss: one INSERT of every row, checks computed inline
(the same view and ``judged`` expressions as sql/insert_checked_production.sql), straight into
a persistent table inside one transaction, then the narrow passes (queries, duplicates, a
profile) before the commit. It leaves out query keys, quarantine rows, GX and the ledger.

    python -m bench.probe_write_once parquet|jsonl   # uses the benchmark's 1M-row files
    python -m bench.probe_write_once cases           # what strict read_json does with odd lines

Seen on 2026-11-30 (fourth session; 1500MB limit, query keys in their own table; 2 cores):
Parquet 2.96 s in all (insert 2.40 s), about 1.7-1.8x bare once the left-out steps are added;
JSONL 8.07 s (insert 5.24 s, and the commit 1.48 s after the UPDATE that numbers the lines).
"""

from __future__ import annotations

import os
import sys
import time

from bench.bench_ingest import make_files
from judgeflow.config import load_settings
from judgeflow.store import open_store, sql
from judgeflow.weeks import week_bounds
from tasks.ingest import MEMORY_LIMIT, json_paths
from tasks.sources import read_jsonl_in_place, read_typed_parquet, resolve_sources

WEEK = "2026-W47"
TABLE = """
CREATE TABLE production_rows (
    sample_id VARCHAR, week VARCHAR NOT NULL, query VARCHAR, document VARCHAR, doc_id VARCHAR,
    seen_at TIMESTAMP, metadata JSON, judge_raw_output VARCHAR, content_hash VARCHAR,
    source_uri VARCHAR NOT NULL, source_row BIGINT NOT NULL, ingest_run_id VARCHAR NOT NULL,
    reason_code VARCHAR, message VARCHAR, raw_row VARCHAR
)
"""
SELECT_ALL = """
SELECT
    coalesce(given_id, sha256(concat_ws(chr(31), query, coalesce(doc_id, document), coalesce(seen_text, '')))),
    $week, query, document, doc_id, seen_at, metadata, judge_raw_output,
    CASE WHEN failure IS NULL THEN format('{:016x}', hash(query, document, metadata)) END,
    source_uri, source_row, 'probe', failure.code, failure.message,
    CASE WHEN failure IS NOT NULL THEN coalesce(record, '') END
FROM judged
"""


# Files of two or three lines, each with one kind of line a JSONL reader must not lose track of.
READ_JSON_CASES = {
    "blank line": b'{"query":"a"}\n\n{"query":"b"}\n',
    "whitespace line": b'{"query":"a"}\n   \n{"query":"b"}\n',
    "array": b'{"query":"a"}\n[1,2]\n',
    "string": b'{"query":"a"}\n"str"\n',
    "number": b'{"query":"a"}\n5\n',
    "null": b'{"query":"a"}\nnull\n',
    "empty object": b'{"query":"a"}\n{}\n',
    "two objects on a line": b'{"query":"a"}{"query":"b"}\n',
    "truncated last line": b'{"query":"a"}\n{"query":"b',
    "duplicate key": b'{"query":"a","query":"b"}\n',
    "CRLF": b'{"query":"a"}\r\n{"query":"b"}\r\n',
    "lone CR": b'{"query":"a"}\r{"query":"b"}\r',
    "UTF-16 byte-order mark": b'{"query":"a"}\n\xff\xfe{"query":"b"}\n',
    "invalid UTF-8 in a string": b'{"query":"a"}\n{"query":"b\xc3\x28"}\n',
}


def read_json_cases() -> None:
    """Print, per case, the rows strict read_json returns (JSON-typed columns) or its error."""
    import tempfile
    from pathlib import Path

    import duckdb

    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.jsonl"
        for name, data in READ_JSON_CASES.items():
            path.write_bytes(data)
            try:
                rows = con.execute(
                    "SELECT * FROM read_json($f, format = 'newline_delimited', "
                    "columns = {'query': 'JSON', 'document': 'JSON'})",
                    {"f": str(path)},
                ).fetchall()
                lines = data.count(b"\n")
                print(f"{name:24} {lines} newlines -> {len(rows)} rows {rows}")
            except duckdb.Error as exc:
                print(f"{name:24} error: {str(exc).splitlines()[0][:100]}")


def main(fmt: str) -> None:
    path = make_files(1_000_000)[fmt]
    db = path.parent / "probe_write_once.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    settings = load_settings()
    start, end = week_bounds(WEEK)
    params = {"max_document_chars": settings.max_document_chars, "week": WEEK, "week_start": start, "week_end": end}
    began = time.perf_counter()
    files = resolve_sources(path)
    with open_store(db) as con:

        def timed(label: str, statement: str, values: dict | None = None) -> None:
            t = time.perf_counter()
            con.execute(statement, values or {}).fetchall()
            print(f"{time.perf_counter() - t:6.2f} s  {label}")

        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # a constant, as in tasks/ingest.py
        con.execute(sql("create_record_failure_macro"))
        con.execute(sql("create_timestamp_macros"))
        con.execute("SET VARIABLE jf_paths = $paths", {"paths": json_paths("production", {})})
        con.execute("SET VARIABLE jf_timezone = $timezone", {"timezone": settings.timezone})
        con.execute(TABLE)
        if fmt == "parquet":
            con.execute(sql("create_typed_value_macros"))
            read_typed_parquet(con, files[0], "production_fields")
        else:
            read_jsonl_in_place(con, files[0], "staged_records")
            con.execute(sql("create_parsed_records"))
            con.execute(sql("create_production_fields_from_records"))
        checks = sql("insert_checked_production")
        judged = checks[checks.index("WITH judged AS") : checks.index("SELECT\n    judged.source_uri")]
        con.execute("BEGIN")
        timed("insert every row once, checks inline", "INSERT INTO production_rows " + judged + SELECT_ALL, params)
        if fmt == "jsonl":
            timed("number the lines (UPDATE in the transaction)", "UPDATE production_rows SET source_row = n.o FROM ("
                  "SELECT rowid AS rid, rowid - min(rowid) OVER () + 1 AS o FROM production_rows) AS n "
                  "WHERE production_rows.rowid = n.rid")
        timed("distinct clean queries", "SELECT DISTINCT query FROM production_rows WHERE reason_code IS NULL")
        timed("repeated sample ids", "SELECT sample_id FROM production_rows WHERE reason_code IS NULL "
              "GROUP BY sample_id HAVING count(*) > 1")
        timed("commit", "COMMIT")
        timed("checkpoint", "CHECKPOINT")
    print(f"{time.perf_counter() - began:6.2f} s  in all, file hashing included")
    db.unlink(missing_ok=True)


if __name__ == "__main__":
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    arg = sys.argv[1] if len(sys.argv) > 1 else "parquet"
    if arg == "cases":
        read_json_cases()
    else:
        main(arg)
