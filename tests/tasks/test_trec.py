"""TREC import: reading qrels/queries/passages, the conversion, and the ingest it feeds.

Stays away from ingest's own row checks (tests/tasks/test_ingest.py covers them) and from the
real LLMJudge data (bench/bench_real.py reads it): every fixture here is built in tmp_path.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgeflow.config import load_settings
from judgeflow.errors import InputError
from tasks.trec import (
    REASON_MALFORMED,
    REASON_UNKNOWN_DOC,
    REASON_UNKNOWN_QUERY,
    qrels_to_annotations,
    read_passages,
    read_qrels,
    read_queries,
)

WEEK = "2026-W47"

GOOD_LINES = [
    "q1 0 d1 3",
    "q1 0 d2 0",
    "q2 0 d3 2",
    "q2 0 d4 1",
]
BAD_LINES = {
    "q1 0 d5": REASON_MALFORMED,  # three fields
    "q1 0 d1 2 extra": REASON_MALFORMED,  # five fields
    "q9 0 d1 2": REASON_UNKNOWN_QUERY,
    "q2 0 d99 1": REASON_UNKNOWN_DOC,
    "q2 0 d2 4": "out_of_scale",  # 4 is outside 0-3
}


@pytest.fixture
def trec_files(tmp_path: Path) -> dict[str, Path]:
    """A small TREC fixture: 4 good judgments, 5 bad lines, blank lines, gzipped passages."""
    folder = tmp_path / "trec"
    folder.mkdir()
    qrels = folder / "qrels.txt"
    lines = [GOOD_LINES[0], "", *list(BAD_LINES)[:2], *GOOD_LINES[1:], *list(BAD_LINES)[2:], "   "]
    qrels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    queries = folder / "queries.tsv"
    queries.write_text("q1\tdog age by teeth\nq2\thow to reset a router\n", encoding="utf-8")
    docs = folder / "passages.jsonl.gz"
    passages = [
        {"pid": "d1", "contents": "Dogs have 42 adult teeth by six months."},
        {"pid": "d2", "contents": "Cats sleep most of the day."},
        {"docid": "d3", "text": "Hold the reset button for ten seconds.", "title": "Router manual"},
        {"id": "d4", "text": "Routers forward packets between networks."},
    ]
    with gzip.open(docs, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(p) for p in passages) + "\n")
    return {"qrels": qrels, "queries": queries, "docs": docs}


def test_read_qrels_skips_blank_lines_and_flags_lines_without_four_fields(trec_files):
    qrels = read_qrels(trec_files["qrels"])
    assert len(qrels) == len(GOOD_LINES) + len(BAD_LINES)
    malformed = [q for q in qrels if q.reason == REASON_MALFORMED]
    assert [q.line for q in malformed] == [3, 4]
    assert "3 fields" in malformed[0].message and "5 fields" in malformed[1].message
    assert qrels[0].qid == "q1" and qrels[0].docid == "d1" and qrels[0].grade == 3


def test_read_qrels_keeps_non_integer_grades_as_read_for_ingest_to_judge(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("q1 0 d1 1.5\nq1 0 d2 two\nq1 0 d3 -1\n", encoding="utf-8")
    assert [q.grade for q in read_qrels(path)] == [1.5, "two", -1]


def test_read_passages_accepts_jsonl_id_variants_with_titles_and_tsv(trec_files, tmp_path):
    passages = read_passages(trec_files["docs"])
    assert set(passages) == {"d1", "d2", "d3", "d4"}
    assert passages["d3"].title == "Router manual"
    tsv = tmp_path / "collection.tsv"
    tsv.write_text("7\tfirst passage\n8\tsecond\tpassage with a tab\n", encoding="utf-8")
    assert read_passages(tsv)["8"].text == "second\tpassage with a tab"


def test_read_passages_rejects_a_json_line_without_an_id_naming_the_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "d1", "text": "ok"}\n{"body_text": "no id"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2 needs an id"):
        read_passages(path)


def test_read_queries_rejects_a_line_without_a_tab(tmp_path):
    path = tmp_path / "queries.tsv"
    path.write_text("q1\tfine\nq2 no tab here\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2 is not .qid<TAB>text."):
        read_queries(path)


def test_conversion_gives_one_row_per_line_and_a_reason_for_each_unresolvable_line(trec_files):
    rows = qrels_to_annotations(
        read_qrels(trec_files["qrels"]), read_queries(trec_files["queries"]), read_passages(trec_files["docs"])
    )
    assert len(rows) == len(GOOD_LINES) + len(BAD_LINES)
    by_reason: dict[str | None, int] = {}
    for row in rows:
        by_reason[row["quarantine_reason"]] = by_reason.get(row["quarantine_reason"], 0) + 1
        if row["quarantine_reason"]:
            assert row["document"] is None and row["quarantine_message"]
    assert by_reason == {None: 5, REASON_MALFORMED: 2, REASON_UNKNOWN_QUERY: 1, REASON_UNKNOWN_DOC: 1}
    good = next(r for r in rows if r["annotation_id"] == "trec:q2:d3")
    assert good["query"] == "how to reset a router" and good["rating"] == 2 and good["title"] == "Router manual"
    out_of_scale = next(r for r in rows if r["annotation_id"] == "trec:q2:d2")
    assert out_of_scale["rating"] == 4 and out_of_scale["quarantine_reason"] is None


def _import(db_path, trec_files, scale):
    from tasks.trec import import_trec

    settings = load_settings(quarantine_threshold=1.0)
    return import_trec(db_path, WEEK, **{k: str(v) for k, v in trec_files.items()}, scale=scale, settings=settings)


def _quarantine(db_path) -> list[tuple[str, str]]:
    from judgeflow.store import open_store

    with open_store(db_path) as con:
        return con.execute("SELECT reason_code, message FROM quarantine ORDER BY source_row").fetchall()


def test_import_quarantines_every_bad_line_with_a_reason_and_loses_no_row(db_path, trec_files):
    summary = _import(db_path, trec_files, "0-3")
    ann = summary["annotations"]
    assert ann["read"] == len(GOOD_LINES) + len(BAD_LINES)
    assert ann["ingested"] + ann["quarantined"] == ann["read"]
    assert ann["ingested"] == len(GOOD_LINES)
    assert ann["quarantined"] == len(BAD_LINES)
    quarantined = _quarantine(db_path)
    assert len(quarantined) == len(BAD_LINES) and all(code and message for code, message in quarantined)
    codes = [code for code, _ in quarantined]
    assert codes.count(REASON_MALFORMED) == 2
    assert codes.count(REASON_UNKNOWN_QUERY) == 1
    assert codes.count(REASON_UNKNOWN_DOC) == 1
    assert "rating_out_of_range" in codes
    assert summary["trec"]["reasons"] == {REASON_MALFORMED: 2, REASON_UNKNOWN_QUERY: 1, REASON_UNKNOWN_DOC: 1}
    assert summary["trec"]["scale"] == "0-3"


def test_the_scale_flag_decides_whether_grade_4_is_in_range(db_path, tmp_path, trec_files):
    summary = _import(tmp_path / "wide.duckdb", trec_files, "0-4")
    assert summary["annotations"]["ingested"] == len(GOOD_LINES) + 1
    assert "rating_out_of_range" not in summary["annotations"]["reasons"]


def test_import_trec_command_prints_one_json_object(tmp_path, trec_files):
    from judgeflow.cli import _register, cli

    _register()
    (tmp_path / "judgeflow.toml").write_text("quarantine_threshold = 1.0\n", encoding="utf-8")
    db = tmp_path / "cli.duckdb"
    args = ["import-trec", "--week", WEEK, "--scale", "0-3", "--db", str(db), "--json"]
    for key, path in trec_files.items():
        args += [f"--{key}", str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["week"] == WEEK and data["annotations"]["read"] == 9 and data["trec"]["lines"] == 9


def test_import_trec_command_refuses_a_bad_scale_in_one_line(tmp_path, trec_files):
    from judgeflow.cli import _register, cli

    _register()
    args = ["import-trec", "--week", WEEK, "--scale", "three", "--db", str(tmp_path / "x.duckdb")]
    for key, path in trec_files.items():
        args += [f"--{key}", str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "rating scale must look like" in result.output and "Traceback" not in result.output
