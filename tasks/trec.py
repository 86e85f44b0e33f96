"""TREC-style relevance judgments -> an annotations source the ordinary ingest path reads.

Three inputs: qrels (``qid iteration docid grade``, whitespace separated), queries (TSV
``qid<TAB>text``) and passages (JSONL ``{id|docid|doc_id|pid|_id, text|contents|passage|
document, [title]}`` or TSV ``pid<TAB>text``; any of them may be gzipped). Each non-blank qrels
line becomes exactly one JSONL annotations row, in order, so ingest's own checks (rating range on
the configured scale, duplicates, ...) and its quarantine apply unchanged and
``ingested + quarantined = read`` holds for the qrels file.

Lines ingest cannot judge on its own (a malformed line, a query or doc id missing from the
queries or passages file) become rows with a null query/document and a ``quarantine_reason`` /
``quarantine_message`` column naming the TREC-level problem: ingest quarantines them either way
(a row without a query never lands), and a reason column it honours keeps the exact code.
Grades are passed through as read, so a grade outside the scale is ingest's
``rating_out_of_range`` and a non-integer grade is ingest's own type check.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import task

from judge.scale import Scale
from judgeflow.config import Settings, load_settings
from judgeflow.errors import InputError
from judgeflow.weeks import parse_week

REASON_MALFORMED = "malformed_qrels_line"
REASON_UNKNOWN_QUERY = "unknown_query_id"
REASON_UNKNOWN_DOC = "unknown_doc_id"
TREC_REASONS = (REASON_MALFORMED, REASON_UNKNOWN_QUERY, REASON_UNKNOWN_DOC)
ANNOTATOR = "trec-qrels"

_ID_KEYS = ("id", "docid", "doc_id", "pid", "_id")
_TEXT_KEYS = ("text", "contents", "passage", "document", "body")


@dataclass(frozen=True)
class Qrel:
    """One non-blank qrels line; ``reason`` is set when the line itself is malformed."""

    line: int
    qid: str | None = None
    docid: str | None = None
    grade: int | float | str | None = None
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Passage:
    text: str
    title: str | None = None


def _open_text(path: Path):
    if not path.exists():
        raise InputError(f"file {str(path)!r} does not exist; pass an existing file")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without the line break) of every line."""
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            yield number, line.rstrip("\r\n")


def _parse_grade(text: str) -> int | float | str:
    """An int when the grade is integral, else the float or the text as read."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_qrels(path: str | Path) -> list[Qrel]:
    """Every non-blank line of a qrels file, malformed ones flagged with a reason."""
    qrels = []
    for number, line in _lines(Path(path)):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 4:
            qrels.append(
                Qrel(
                    line=number,
                    reason=REASON_MALFORMED,
                    message=f"qrels line {number} has {len(fields)} fields, expected 'qid 0 docid grade': {line[:80]!r}",
                )
            )
            continue
        qid, _iteration, docid, grade = fields
        qrels.append(Qrel(line=number, qid=qid, docid=docid, grade=_parse_grade(grade)))
    return qrels


def read_queries(path: str | Path) -> dict[str, str]:
    """qid -> query text from a TSV file ``qid<TAB>text``."""
    queries: dict[str, str] = {}
    for number, line in _lines(Path(path)):
        if not line.strip():
            continue
        qid, sep, text = line.partition("\t")
        if not sep or not qid.strip():
            raise InputError(
                f"queries file {str(path)!r} line {number} is not 'qid<TAB>text': {line[:80]!r}; fix the line"
            )
        qid = qid.strip()
        if qid in queries and queries[qid] != text.strip():
            raise InputError(f"queries file {str(path)!r} gives query id {qid!r} two texts (line {number}); keep one")
        queries[qid] = text.strip()
    return queries


def _passage_from_json(obj: Any, path: Path, number: int) -> tuple[str, Passage]:
    if not isinstance(obj, dict):
        raise InputError(f"passages file {str(path)!r} line {number} is not a JSON object; fix the line")
    pid = next((obj[k] for k in _ID_KEYS if obj.get(k) not in (None, "")), None)
    text = next((obj[k] for k in _TEXT_KEYS if isinstance(obj.get(k), str)), None)
    if pid is None or text is None:
        raise InputError(
            f"passages file {str(path)!r} line {number} needs an id ({'/'.join(_ID_KEYS)}) and a text "
            f"({'/'.join(_TEXT_KEYS)}); found keys {sorted(obj)}"
        )
    title = obj.get("title") if isinstance(obj.get("title"), str) else None
    return str(pid), Passage(text=text, title=title or None)


def read_passages(path: str | Path) -> dict[str, Passage]:
    """docid -> passage from JSONL (id and text keys, optional title) or TSV ``pid<TAB>text``."""
    path = Path(path)
    is_json = ".jsonl" in path.suffixes or ".json" in path.suffixes
    passages: dict[str, Passage] = {}
    for number, line in _lines(path):
        if not line.strip():
            continue
        if is_json:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"passages file {str(path)!r} line {number} is not valid JSON ({exc.msg}); fix the line") from exc
            pid, passage = _passage_from_json(obj, path, number)
        else:
            pid, sep, text = line.partition("\t")
            if not sep or not pid.strip():
                raise InputError(
                    f"passages file {str(path)!r} line {number} is not 'pid<TAB>text': {line[:80]!r}; fix the line"
                )
            pid, passage = pid.strip(), Passage(text=text)
        passages[pid] = passage
    return passages


def qrels_to_annotations(
    qrels: list[Qrel], queries: dict[str, str], passages: dict[str, Passage]
) -> list[dict[str, Any]]:
    """One annotations row per qrels line, in order; unresolvable lines carry a reason."""
    rows = []
    for q in qrels:
        row: dict[str, Any] = {
            "annotation_id": f"trec:{q.qid}:{q.docid}" if q.reason is None else f"trec-line:{q.line}",
            "query": None,
            "document": None,
            "doc_id": q.docid,
            "rating": q.grade,
            "annotator": ANNOTATOR,
            "title": None,
            "trec_query_id": q.qid,
            "qrels_line": q.line,
            "quarantine_reason": q.reason,
            "quarantine_message": q.message,
        }
        if q.reason is None and q.qid not in queries:
            row["quarantine_reason"] = REASON_UNKNOWN_QUERY
            row["quarantine_message"] = (
                f"qrels line {q.line}: query id {q.qid!r} is not in the queries file; add it or drop the line"
            )
        elif q.reason is None and q.docid not in passages:
            row["query"] = queries[q.qid]
            row["quarantine_reason"] = REASON_UNKNOWN_DOC
            row["quarantine_message"] = (
                f"qrels line {q.line}: doc id {q.docid!r} is not in the passages file; add it or drop the line"
            )
        elif q.reason is None:
            passage = passages[q.docid]
            row["query"] = queries[q.qid]
            row["document"] = passage.text
            row["title"] = passage.title
        rows.append(row)
    return rows


def write_annotations(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write rows as JSONL (atomically: temp file then rename) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def _fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.read_bytes())
    return digest.hexdigest()[:12]


def import_trec(
    db_path: str | Path,
    week: str,
    *,
    qrels: str | Path,
    queries: str | Path,
    docs: str | Path,
    scale: str | Scale | None = None,
    settings: Settings | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Convert TREC files to an annotations JSONL and ingest it for ``week`` on ``scale``.

    Returns ingest's summary plus ``trec``: lines read, the converted file, and the TREC-level
    reasons this conversion found (each of those rows is also in ingest's quarantine).
    """
    week = parse_week(week)
    settings = settings or load_settings()
    if scale is not None:
        settings = settings.model_copy(update={"scale": Scale.parse(scale)})
    from tasks.ingest import ingest_week

    qrels_path, queries_path, docs_path = Path(qrels), Path(queries), Path(docs)
    rows = qrels_to_annotations(read_qrels(qrels_path), read_queries(queries_path), read_passages(docs_path))
    folder = Path(out_dir) if out_dir else settings.home / "imports"
    converted = write_annotations(
        rows, folder / f"trec-{week}-{_fingerprint(qrels_path, queries_path, docs_path)}.jsonl"
    )
    summary = ingest_week(db_path, week, annotations=converted, settings=settings)
    summary["trec"] = {
        "qrels": str(qrels_path),
        "queries": str(queries_path),
        "docs": str(docs_path),
        "converted": str(converted),
        "scale": str(settings.scale),
        "lines": len(rows),
        "reasons": dict(Counter(r["quarantine_reason"] for r in rows if r["quarantine_reason"])),
    }
    return summary


@task(name="import-trec", retries=0)
def import_trec_task(
    db_path: str, week: str, qrels: str, queries: str, docs: str, scale: str | None = None
) -> dict[str, Any]:
    """Import TREC qrels, queries and passages as one week's annotations."""
    return import_trec(db_path, week, qrels=qrels, queries=queries, docs=docs, scale=scale)
