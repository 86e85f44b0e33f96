"""Ingest: one week's annotation and production files -> DuckDB, every row landed or quarantined.

Files are staged into temp tables by DuckDB itself (tasks/sources.py), checked row by row in
SQL (sql/create_checked_*.sql, sql/mark_*.sql), validated as a batch with Great Expectations
(tasks/validate.py), then the week is replaced in one transaction: delete the week's rows and
quarantine, insert the new ones. A batch failure or a crash leaves the store as it was; the
ledger (``ingest_runs``) records every attempt, including unchanged re-runs and failures, with
each file's sha256: hashed first when the source may be unchanged, else while the rows are checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from judgeflow.config import Settings, load_settings
from judgeflow.errors import InputError
from judgeflow.store import open_store, sql, transaction
from judgeflow.weeks import parse_week, week_bounds
from tasks.sources import (
    MAX_LINE_BYTES,
    SourceFile,
    cleanup,
    ends_with_newline,
    read_jsonl_in_place,
    read_jsonl_records_in_place,
    read_typed_parquet,
    resolve_sources,
    stage_files,
    unreadable,
    with_hashes,
)
from tasks.split import query_key
from tasks.validate import Validation, raise_on_problems, store_validation, validate_batch

SOURCES = ("annotations", "production")
FIELDS = {
    "annotations": (
        "query", "document", "rating", "annotation_id", "doc_id", "explanation", "annotator",
        "title", "doc_type", "modified_at", "created_at", "quarantine_reason", "quarantine_message",
    ),
    "production": (
        "query", "document", "sample_id", "doc_id", "seen_at", "metadata", "judge_raw_output",
        "quarantine_reason", "quarantine_message",
    ),
}
_TABLES = {"annotations": "annotations", "production": "production_samples"}
_CHECKED = {"annotations": "checked_annotations", "production": "checked_production"}
# DuckDB spills to <db>.tmp beyond this, keeping a 1M-row week under the 2 GB target: peak
# RSS of `python -m bench ingest` was ~1.65 GB at 1.5GB (imports included), ~1.38 GB at 1GB,
# where spilling the checked rows made ingest ~0.9 s slower, and ~2.15 GB at 4GB.
MEMORY_LIMIT = "1500MB"
# Bump when the row checks change, so a re-ingest of the same files is not skipped as unchanged.
CHECKS_VERSION = 2  # 2: one timestamp parse for every reader (sql/create_timestamp_macros.sql)


def check_field_map(field_map: dict[str, str] | None) -> dict[str, str]:
    """{target field: source column}; raise InputError on an unknown target or a bad name."""
    known = set(FIELDS["annotations"]) | set(FIELDS["production"])
    checked = {}
    for target, column in (field_map or {}).items():
        if target not in known:
            raise InputError(f"--field-map target {target!r} is not a field; use one of {', '.join(sorted(known))}")
        if not column or '"' in column or "\\" in column:
            raise InputError(f"--field-map {target}={column!r}: the source column must be a non-empty name without quotes")
        checked[target] = column
    return checked


def json_paths(source: str, field_map: dict[str, str]) -> list[str]:
    """The JSON path of each field of ``source``, in FIELDS order, after the field map."""
    return [f'$."{field_map.get(name, name)}"' for name in FIELDS[source]]


def fingerprint(files: list[SourceFile], settings: Settings, field_map: dict[str, str], source: str) -> str:
    """What decides a source's outcome: file contents and the settings the checks read."""
    payload = {
        "source": source,
        "files": [f.sha256 for f in files],
        "field_map": field_map,
        "scale": str(settings.scale),
        "max_document_chars": settings.max_document_chars,
        "timezone": settings.timezone,
        "checks": CHECKS_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _empty_counts() -> dict[str, Any]:
    return {"read": 0, "ingested": 0, "quarantined": 0, "reasons": {}}


def _add_query_keys(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Add the keys of the source's clean queries batch_query_keys lacks: stored or computed."""
    con.execute(sql(f"create_clean_{source}_queries"))
    try:
        found = con.execute(sql("select_new_batch_queries")).fetchall()
    finally:
        con.execute("DROP VIEW clean_queries")  # a fixed name
    new = pa.table({"query": [q for q, _ in found], "query_key": [k or query_key(q) for q, k in found]})
    con.register("new_query_keys", new)
    try:
        con.execute("INSERT INTO batch_query_keys SELECT query, query_key FROM new_query_keys")
    finally:
        con.unregister("new_query_keys")


def check_source(con: duckdb.DuckDBPyConnection, source: str, week: str, files: list[SourceFile],
                 settings: Settings, field_map: dict[str, str]) -> dict[str, Any]:
    """Stage and check one source's files; return counts per file and reasons."""
    # Production files (the bulk input) are read in place: Parquet typed, JSONL line by line,
    # with no staging table; everything else is staged as JSON records first. A field map
    # needs JSON paths, so it keeps Parquet on the records path.
    infos = stage_files(con, files, in_place=source == "production", typed_parquet=not field_map)
    start, end = week_bounds(week)
    params = {
        "max_document_chars": settings.max_document_chars,
        "week": week,
        "week_start": start,
        "week_end": end,
    }
    con.execute(sql("create_record_failure_macro"))
    con.execute(sql("create_timestamp_macros"))
    con.execute("SET VARIABLE jf_paths = $paths", {"paths": json_paths(source, field_map)})
    try:
        if source == "annotations":
            params |= {"timezone": settings.timezone, "scale_lo": settings.scale.lo, "scale_hi": settings.scale.hi}
            con.execute(sql("create_staged_records_from_staged_raw"))
            con.execute(sql("create_parsed_records"))
            con.execute(sql("create_checked_annotations"), params)
        else:
            _check_production(con, files, infos, settings.timezone, params)
    finally:
        for view in ("production_fields", "parsed_records", "staged_records"):  # fixed names
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for name in ("jf_timezone", "jf_paths", "jf_file", "jf_uri", "jf_delim", "jf_max_line_size"):
            con.execute(f"RESET VARIABLE {name}")  # fixed names, no input
    con.execute("DROP TABLE staged_raw")
    _add_query_keys(con, source)
    if source == "annotations":
        con.execute(sql("mark_duplicate_annotation_ids"))
        con.execute(sql("mark_duplicate_annotation_pairs"))
        con.execute(sql("mark_annotation_ids_of_other_weeks"), {"week": week})
    else:
        con.execute(sql("mark_duplicate_sample_ids"))
        con.execute(sql("mark_sample_ids_of_other_weeks"), {"week": week})
    per_file: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for uri, code, n in con.execute(sql(f"count_checked_{source}")).fetchall():
        per_file[uri] += n
        if code is not None:
            reasons[code] += n
    for info in infos:
        info["rows"] = per_file.get(str(info["uri"]), 0)
    read = sum(per_file.values())
    quarantined = sum(reasons.values())
    return {
        "counts": {"read": read, "ingested": read - quarantined, "quarantined": quarantined,
                   "reasons": dict(sorted(reasons.items()))},
        "files": infos,
    }


def _production_fields_from_records(con: duckdb.DuckDBPyConnection) -> None:
    """Parse the records staged_records points at into the production_fields the checks read."""
    con.execute(sql("create_parsed_records"))
    con.execute(sql("create_production_fields_from_records"))


def _check_production(con: duckdb.DuckDBPyConnection, files: list[SourceFile], infos: list[dict[str, object]],
                      timezone: str, params: dict[str, Any]) -> None:
    """Fill checked_production from each file read in place, then from the staged records."""
    con.execute(sql("create_checked_production"))
    con.execute("SET VARIABLE jf_timezone = $timezone", {"timezone": timezone})
    in_place = [(f, info) for f, info in zip(files, infos, strict=True) if info.get("read") == "in place"]
    if any(f.format == "parquet" for f, _ in in_place):
        con.execute(sql("create_typed_value_macros"))
    for file, info in in_place:
        if file.format == "parquet":
            read_typed_parquet(con, file, "production_fields")
            con.execute(sql("insert_checked_production"), params)
        else:
            info.update(_check_jsonl_in_place(con, file, params))
    # Last, so the lines the in-place JSONL reads rejected (staged above) are checked too.
    con.execute(sql("create_staged_records_from_staged_raw"))
    _production_fields_from_records(con)
    con.execute(sql("insert_checked_production"), params)


def _check_jsonl_in_place(con: duckdb.DuckDBPyConnection, file: SourceFile, params: dict[str, Any]) -> dict[str, object]:
    """Check one JSONL file's records straight from the file; return how it was read.

    DuckDB's JSON reader goes first (``_check_jsonl_records``). A file it cannot account for
    byte by byte is read line by line instead, where every line becomes a row: the lines the
    reader rejected are staged in staged_raw, as for a staged file, and checked with it.
    """
    uri = {"uri": file.uri}
    if _check_jsonl_records(con, file, params):
        con.execute(sql("number_checked_production_lines"), uri)
        return {"reader": "json records", "rejected_lines": 0}
    read_jsonl_in_place(con, file, "staged_records")
    _production_fields_from_records(con)
    try:
        con.execute(sql("insert_checked_production"), params)
    except duckdb.Error as exc:
        raise unreadable(file, exc, "fix the file or convert it") from exc
    con.execute(sql("number_checked_production_lines"), uri)  # ordinals, blank lines included
    con.execute(sql("delete_checked_production_blank_lines"), uri)
    rejected = con.execute(sql("count_rejected_lines")).fetchone()[0]
    if rejected:
        con.execute(sql("create_file_line_macro"))
        con.execute(sql("skip_rejected_checked_production_lines"), uri)
        con.execute(sql("insert_staged_rejects"), {**uri, "format": "jsonl"})
    return {"reader": "lines", "rejected_lines": rejected}


def _check_jsonl_records(con: duckdb.DuckDBPyConnection, file: SourceFile, params: dict[str, Any]) -> bool:
    """Check ``file`` read by DuckDB's JSON reader into checked_production; keep the rows only
    if they are exactly what the line reader would give, else leave none and return False.

    That reader skips blank lines, trims whitespace around a record and fails on a line that is
    not one JSON value or not UTF-8. Its record texts are cut from the file, one per line, so
    when their bytes plus one line feed between each (and after the last, if the file ends with
    one) add up to the file's size, no line was skipped, trimmed or split: every record is its
    whole line, in order. A blank line, CRLF line ends, a byte-order mark or a compressed file
    fail that sum (or the read) and go to the line reader, as does a line it would reject as
    too long. On 1M lines of ~600 bytes this read checks in ~0.6 s less than the line reader.
    """
    if file.local_path.lower().endswith(".gz"):
        return False
    read_jsonl_records_in_place(con, file, "staged_records")
    _production_fields_from_records(con)
    try:
        con.execute(sql("insert_checked_production"), params)
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return False  # a bad line: the statement wrote nothing, and the line reader quarantines it
    records, record_bytes, longest = con.execute(sql("select_checked_production_file_bytes"), {"uri": file.uri}).fetchone()
    line_feeds = records if ends_with_newline(file) else records - 1
    if record_bytes + line_feeds == file.bytes and longest < MAX_LINE_BYTES:
        return True
    con.execute(sql("delete_checked_production_file"), {"uri": file.uri})
    return False


def _load(con: duckdb.DuckDBPyConnection, source: str, week: str, run_id: str) -> None:
    con.execute(sql(f"delete_week_{_TABLES[source]}"), {"week": week})
    con.execute(sql("delete_week_quarantine"), {"week": week, "source": source})
    con.execute(sql(f"insert_{_TABLES[source]}"), {"week": week, "run_id": run_id})
    con.execute(sql(f"insert_quarantined_{source}"), {"week": week, "run_id": run_id})


def _finish(con: duckdb.DuckDBPyConnection, run_id: str, counts: dict[str, Any], status: str,
            error: str | None = None) -> None:
    con.execute(
        sql("finish_ingest_run"),
        {
            "run_id": run_id,
            "rows_read": counts["read"],
            "rows_ingested": counts["ingested"] if status in ("ingested", "unchanged") else 0,
            "rows_quarantined": counts["quarantined"] if status in ("ingested", "unchanged") else 0,
            "reasons": json.dumps(counts["reasons"]),
            "status": status,
            "error": error,
        },
    )


def _open_run(con: duckdb.DuckDBPyConnection, source: str, week: str, uri: str,
              files: list[SourceFile], fp: str | None) -> str:
    run_id = uuid.uuid4().hex
    con.execute(
        sql("insert_ingest_run"),
        {"run_id": run_id, "week": week, "source": source, "source_uri": uri,
         "files": json.dumps([f.ledger_entry() for f in files]), "fingerprint": fp},
    )
    return run_id


def ingest_week(
    db_path: str | Path,
    week: str,
    *,
    annotations: str | Path | None = None,
    production: str | Path | None = None,
    settings: Settings | None = None,
    field_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Ingest one week's sources; return {"week", "annotations", "production", "runs", "validation"}.

    ``annotations`` / ``production`` are a file, a folder or an fsspec URL (either may be None).
    Raises ValidationFailedError on a batch-level failure, leaving the store as it was.
    """
    week = parse_week(week)
    settings = settings or load_settings()
    field_map = check_field_map(field_map)
    given = {s: src for s, src in zip(SOURCES, (annotations, production), strict=True) if src is not None}
    if not given:
        raise InputError("nothing to ingest: pass --annotations and/or --production")
    summary: dict[str, Any] = {"week": week, **{s: _empty_counts() for s in SOURCES}, "runs": {}, "validation": {}}
    resolved: dict[str, list[SourceFile]] = {}
    started = time.perf_counter()
    try:
        for source, src in given.items():
            resolved[source] = resolve_sources(src, hash_local=False)
        with open_store(db_path) as con:
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # a constant, not input
            _ingest(con, week, given, resolved, settings, field_map, summary)
    finally:
        for files in resolved.values():
            cleanup(files)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _may_be_unchanged(files: list[SourceFile], last_files: str | None) -> bool:
    """Whether ``files`` could be the files of the last ingested run: the same URIs and sizes.

    Files of another size cannot hash the same, so a source that fails this has changed and its
    hashes can wait: they are computed while DuckDB checks the rows (~0.3 s of 4-7 s per 1M rows).
    """
    if not last_files:
        return False
    stored = [(entry["uri"], entry["bytes"]) for entry in json.loads(last_files)]
    return stored == [(f.uri, f.bytes) for f in files]


def _record_hashes(con: duckdb.DuckDBPyConnection, pending: dict[str, Future], resolved: dict[str, list[SourceFile]],
                   runs: dict[str, str], settings: Settings, field_map: dict[str, str]) -> None:
    """Wait for the pending hashes and write them, with the fingerprint, to the sources' ledger rows."""
    while pending:
        source, future = pending.popitem()
        files = resolved[source] = future.result()
        con.execute(
            sql("update_ingest_run_files"),
            {"run_id": runs[source], "files": json.dumps([f.ledger_entry() for f in files]),
             "fingerprint": fingerprint(files, settings, field_map, source)},
        )


def _ingest(
    con: duckdb.DuckDBPyConnection,
    week: str,
    given: dict[str, str | Path],
    resolved: dict[str, list[SourceFile]],
    settings: Settings,
    field_map: dict[str, str],
    summary: dict[str, Any],
) -> None:
    """Skip unchanged sources, check and validate the others, then replace them in one transaction.

    A source that may be unchanged (the same files and sizes as last time) is hashed first, to
    decide; a changed one is hashed on another thread while its rows are checked.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgeflow-sha256") as hasher:
        runs: dict[str, str] = {}
        pending: dict[str, Future] = {}
        todo = []
        for source, src in given.items():
            last = con.execute(sql("select_last_ingested_run"), {"week": week, "source": source}).fetchone()
            fp = None
            if all(f.sha256 for f in resolved[source]) or (last and _may_be_unchanged(resolved[source], last[6])):
                resolved[source] = with_hashes(resolved[source])
                fp = fingerprint(resolved[source], settings, field_map, source)
            run_id = _open_run(con, source, week, str(src), resolved[source], fp)
            runs[source] = run_id
            if fp is not None and last and last[1] == fp:
                counts = {"read": last[2], "ingested": last[3], "quarantined": last[4],
                          "reasons": json.loads(last[5] or "{}")}
                _finish(con, run_id, counts, "unchanged")
                summary[source] = counts
                summary["runs"][source] = {"run_id": run_id, "status": "unchanged", "same_as": last[0]}
            else:
                todo.append(source)
                if fp is None:
                    pending[source] = hasher.submit(with_hashes, resolved[source])
        if todo:
            _check_and_load(con, week, todo, runs, pending, resolved, settings, field_map, summary)


def _check_and_load(
    con: duckdb.DuckDBPyConnection,
    week: str,
    todo: list[str],
    runs: dict[str, str],
    pending: dict[str, Future],
    resolved: dict[str, list[SourceFile]],
    settings: Settings,
    field_map: dict[str, str],
    summary: dict[str, Any],
) -> None:
    """Check and validate the changed sources, then replace their week in one transaction."""
    checked: dict[str, dict[str, Any]] = {}
    validations: list[Validation] = []
    try:
        con.execute(sql("create_batch_query_keys"))
        for source in todo:
            checked[source] = check_source(con, source, week, resolved[source], settings, field_map)
            counts = checked[source]["counts"]
            validation = validate_batch(con, source, week, settings, counts["reasons"], counts["read"])
            validations.append(validation)
            summary["validation"][source] = validation.results
        _record_hashes(con, pending, resolved, runs, settings, field_map)
        raise_on_problems(validations)
        # Stored rows carry their source_row and every reader orders explicitly: the copy need not
        # keep the checked table's order, which made it ~1 s slower per 1M JSONL rows.
        con.execute("SET preserve_insertion_order = false")
        try:
            with transaction(con):
                con.execute(sql("insert_query_keys"))
                for source in todo:
                    _load(con, source, week, runs[source])
                    _finish(con, runs[source], checked[source]["counts"], "ingested")
                for validation in validations:
                    store_validation(con, runs[validation.source], week, validation)
        finally:
            con.execute("RESET preserve_insertion_order")
        con.execute("CHECKPOINT")
    except BaseException as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        with contextlib.suppress(Exception):  # the run has failed already: keep its first error
            _record_hashes(con, pending, resolved, runs, settings, field_map)
        for source in todo:
            counts = checked.get(source, {}).get("counts", _empty_counts())
            _finish(con, runs[source], counts, "failed", message)
        for validation in validations:
            store_validation(con, runs[validation.source], week, validation)
        raise
    finally:
        for source in todo:
            con.execute(f"DROP TABLE IF EXISTS {_CHECKED[source]}")  # fixed names, no input
        con.execute("DROP TABLE IF EXISTS batch_query_keys")
    for source in todo:
        for info, file in zip(checked[source]["files"], resolved[source], strict=True):
            info.update(file.ledger_entry())  # staged before the hash was known
        summary[source] = checked[source]["counts"]
        summary["runs"][source] = {"run_id": runs[source], "status": "ingested", "files": checked[source]["files"]}


@task(name="ingest-week", cache_policy=NO_CACHE)
def ingest_week_task(
    db_path: str,
    week: str,
    annotations: str | None = None,
    production: str | None = None,
    field_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Ingest one week's annotation and production files into the store."""
    return ingest_week(db_path, week, annotations=annotations, production=production, field_map=field_map)
