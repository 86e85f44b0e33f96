"""Write weekly sample files: <week>/annotations.jsonl and <week>/production.parquet.

Each week draws from its own seeded random stream (seed, week), so a week's files depend only
on the seed and ``end_week`` (which fixes document ages), not on how many weeks are written.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from judgeflow.errors import InputError
from judgeflow.sample_data.corpus import CorpusDoc, PoolQuery, build_corpus, query_pool, stable_id
from judgeflow.sample_data.rules import HIGHEST, LOWEST, RULE_IDS, Doc, parse_query, rate
from judgeflow.weeks import last_complete_week, parse_week, shift_week, week_bounds
from tasks.split import query_key

RATERS = ("rater_ana", "rater_bo", "rater_chen", "rater_dev", "rater_eli")
RATER_NOISE = 0.15  # share of ratings a rater moves one step off the guidelines
POPULARITY_EXPONENT = 0.9  # Zipf-like: a few pool queries come back most weeks
NEW_QUERY_SHARE = 0.15  # share of a week's annotated queries that are not in the stable pool
BAD_ROW_SHARE = 0.02
QUARANTINE_LIMIT = 0.05  # bad rows (a duplicate id counts twice) always stay below this
ANNOTATION_BAD_KINDS = ("rating_out_of_range", "rating_not_a_number", "empty_document", "missing_query", "duplicate_id", "wrong_week")
PRODUCTION_BAD_KINDS = ("empty_document", "missing_query", "duplicate_id", "wrong_week")
HEDGES = ("Leaning a notch higher than that on balance.", "Borderline, I'd put it a notch lower.", "Gut feeling says a notch off.")
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _moment_in(rng: random.Random, week: str) -> datetime:
    start, _ = week_bounds(week)
    return start + timedelta(seconds=rng.randrange(7 * 86400))


def bad_row_plan(rng: random.Random, rows: int, kinds: tuple[str, ...]) -> list[str]:
    """Which deliberate faults to inject: about 2% of rows, always under the 5% limit."""
    count = round(rows * BAD_ROW_SHARE) or (1 if rows >= 1 / (QUARANTINE_LIMIT - 0.01) else 0)
    start = rng.randrange(len(kinds))
    plan = [kinds[(start + i) % len(kinds)] for i in range(count)]
    rng.shuffle(plan)
    while plan and (len(plan) + plan.count("duplicate_id")) / rows >= QUARANTINE_LIMIT - 1e-9:
        if "duplicate_id" in plan:  # a duplicate id costs two rows: swap it for a one-row fault
            plan[plan.index("duplicate_id")] = next(k for k in kinds if k != "duplicate_id")
        else:
            plan.pop()
    return plan


class _Week:
    """The documents and queries one week can use, indexed by topic."""

    def __init__(self, corpus: list[CorpusDoc], pool: list[PoolQuery], rest: list[PoolQuery], week: str):
        start, _ = week_bounds(week)
        self.docs = [c.doc for c in corpus if c.doc.modified_at < start]
        self.by_id = {d.doc_id: d for d in self.docs}
        self.pool = [q for q in pool if q.target_doc_id is None or q.target_doc_id in self.by_id]
        self.rest = [q for q in rest if q.target_doc_id is None or q.target_doc_id in self.by_id]
        self.popularity = list(accumulate(1 / (rank + 1) ** POPULARITY_EXPONENT for rank in range(len(self.pool))))
        self.on_topic: dict[str, list[Doc]] = {}
        self.mentioning: dict[str, list[Doc]] = {}
        self.sharing: dict[str, list[Doc]] = {}
        for c in corpus:
            if c.doc.doc_id not in self.by_id:
                continue
            for topic in c.topics:
                self.on_topic.setdefault(topic, []).append(c.doc)
                for word in topic.split():
                    self.sharing.setdefault(word, []).append(c.doc)
            for topic in c.mentions:
                self.mentioning.setdefault(topic, []).append(c.doc)

    def query(self, rng: random.Random, new_share: float) -> PoolQuery:
        """A new query, or a pool query with popular ones (early in the pool) recurring often."""
        if rng.random() < new_share:
            return rng.choice(self.rest)
        return rng.choices(self.pool, cum_weights=self.popularity)[0]

    def document(self, rng: random.Random, q: PoolQuery) -> Doc:
        """A document for the query: its target, on topic, a passing mention, a shared word or random."""
        roll = rng.random()
        if q.target_doc_id and roll < 0.3:
            return self.by_id[q.target_doc_id]
        if roll < 0.5:
            pick = self.on_topic.get(q.topic, [])
            wanted = [d for d in pick if d.doc_type == q.intent]
            pick = wanted if wanted and rng.random() < 0.6 else pick
        elif roll < 0.62:
            pick = self.mentioning.get(q.topic, [])
        elif roll < 0.8:
            own = {d.doc_id for d in self.on_topic.get(q.topic, [])}
            pick = [d for w in q.topic.split() for d in self.sharing.get(w, []) if d.doc_id not in own]
        else:
            pick = []
        return rng.choice(pick or self.docs)


def _surface(rng: random.Random, query: str) -> str:
    """How a person typed it: mostly as is, sometimes capitalised or with stray spaces."""
    roll = rng.random()
    if roll < 0.05:
        return query.upper()
    if roll < 0.10:
        return query.capitalize()
    if roll < 0.13:
        return "  " + query.replace(" ", "  ", 1) + " "
    return query


def annotation_rows(seed: int, week: str, week_data: _Week, count: int) -> list[dict[str, Any]]:
    """One week of human annotations, deliberately bad rows included."""
    rng = random.Random(f"{seed}:{week}:annotations")
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    while len(rows) < count:
        q = week_data.query(rng, NEW_QUERY_SHARE)
        typed = _surface(rng, q.query)
        for _ in range(rng.randint(2, 4)):
            doc = week_data.document(rng, q)
            if (query_key(typed), doc.doc_id) in seen or len(rows) == count:
                continue
            seen.add((query_key(typed), doc.doc_id))
            created = _moment_in(rng, week)
            voice = rng.randrange(len(RATERS))
            rating, explanation, _ = rate(parse_query(typed), doc, as_of=created, voice=voice)
            if rng.random() < RATER_NOISE:
                step = rng.choice((-1, 1))
                step = -step if not LOWEST <= rating + step <= HIGHEST else step
                rating += step
                explanation = f"{explanation} {HEDGES[0 if step > 0 else 1 + rng.randrange(2)]}"
            rows.append({
                "annotation_id": stable_id(seed, week, len(rows), prefix="ann-"),
                "query": typed,
                "document": doc.body,
                "rating": rating,
                "explanation": explanation,
                "annotator": RATERS[voice],
                "doc_id": doc.doc_id,
                "title": doc.title,
                "doc_type": doc.doc_type,
                "modified_at": _stamp(doc.modified_at),
                "created_at": _stamp(created),
            })
    plan = bad_row_plan(rng, count, ANNOTATION_BAD_KINDS)
    _inject(rng, rows, plan, week, "annotation_id", "created_at", _stamp)
    for row in rows:
        if row["query"] is None:
            del row["query"]  # a JSONL row without the field, not a null
    return rows


def _inject(
    rng: random.Random,
    rows: list[dict[str, Any]],
    plan: list[str],
    week: str,
    id_field: str,
    time_field: str,
    stamp: Callable[[datetime], Any],
) -> None:
    """Corrupt distinct rows in place; a duplicate id copies the id of an untouched row."""
    if not plan:
        return
    picked = rng.sample(range(len(rows)), len(plan) + 1)
    untouched = rows[picked[-1]]
    start, _ = week_bounds(week)
    for index, kind in zip(picked, plan, strict=False):
        row = rows[index]
        if kind == "rating_out_of_range":
            row["rating"] = HIGHEST + 1
        elif kind == "rating_not_a_number":
            row["rating"] = _NUMBER_WORDS[row["rating"]]
        elif kind == "empty_document":
            row["document"] = ""
        elif kind == "missing_query":
            row["query"] = None
        elif kind == "duplicate_id":
            row[id_field] = untouched[id_field]
        elif kind == "wrong_week":
            row[time_field] = stamp(start - timedelta(days=rng.randint(2, 20), seconds=rng.randrange(86400)))


def _raw_output(rng: random.Random, rating: int, explanation: str) -> str | None:
    """The production judge's raw text: mostly clean JSON, sometimes malformed or missing."""
    clean = json.dumps({"rating": rating, "explanation": explanation})
    roll = rng.random()
    if roll < 0.88:
        return clean
    return rng.choice((
        clean[: max(12, len(clean) // 2)],
        f"```json\n{clean}\n```",
        f"Rating: {rating}/5",
        json.dumps({"rating": _NUMBER_WORDS[rating], "explanation": explanation}),
        json.dumps({"score": rating}),
        "",
        None,
    ))


def production_rows(seed: int, week: str, week_data: _Week, count: int) -> list[dict[str, Any]]:
    """One week of production traffic with the production judge's raw answers."""
    rng = random.Random(f"{seed}:{week}:production")
    judge_rules = tuple(r for r in RULE_IDS if r != "recency")  # the production judge ignores age
    rows = []
    for i in range(count):
        q = week_data.query(rng, 0.4)
        typed = _surface(rng, q.query)
        doc = week_data.document(rng, q)
        seen = _moment_in(rng, week)
        rating, explanation, _ = rate(parse_query(typed), doc, as_of=seen, rules=judge_rules, voice=i)
        if rng.random() < 0.2:
            rating = min(HIGHEST, max(LOWEST, rating + rng.choice((-1, 1))))
        rows.append({
            "sample_id": stable_id(seed, week, i, prefix="prod-"),
            "query": typed,
            "document": doc.body,
            "doc_id": doc.doc_id,
            "seen_at": seen,
            "metadata": {"title": doc.title, "doc_type": doc.doc_type, "modified_at": _stamp(doc.modified_at)},
            "judge_raw_output": _raw_output(rng, rating, explanation),
        })
    _inject(rng, rows, bad_row_plan(rng, count, PRODUCTION_BAD_KINDS), week, "sample_id", "seen_at", lambda t: t)
    return rows


PRODUCTION_SCHEMA = pa.schema([
    ("sample_id", pa.string()),
    ("query", pa.string()),
    ("document", pa.string()),
    ("doc_id", pa.string()),
    ("seen_at", pa.timestamp("us")),
    ("metadata", pa.struct([("title", pa.string()), ("doc_type", pa.string()), ("modified_at", pa.string())])),
    ("judge_raw_output", pa.string()),
])


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(rows, schema=PRODUCTION_SCHEMA)
    pq.write_table(table, path, compression="zstd")


def _positive(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def generate(
    out_dir: str | Path,
    weeks: int = 4,
    seed: int = 0,
    end_week: str | None = None,
    annotations_per_week: int = 60,
    production_per_week: int = 600,
) -> list[Path]:
    """Write ``weeks`` weeks ending at ``end_week`` (default: the last complete ISO week).

    Returns the files written, two per week, oldest week first. Same arguments, same bytes.
    """
    weeks = _positive("weeks", weeks, 1)
    _positive("annotations_per_week", annotations_per_week, 1)
    _positive("production_per_week", production_per_week, 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an integer, got {seed!r}")
    end_week = parse_week(end_week) if end_week else last_complete_week()
    corpus = build_corpus(seed, week_bounds(end_week)[0])
    pool, rest = query_pool(seed, corpus)
    out = Path(out_dir)
    written = []
    for offset in range(weeks - 1, -1, -1):
        week = shift_week(end_week, -offset)
        week_data = _Week(corpus, pool, rest, week)
        folder = out / week
        folder.mkdir(parents=True, exist_ok=True)
        write_jsonl(folder / "annotations.jsonl", annotation_rows(seed, week, week_data, annotations_per_week))
        write_parquet(folder / "production.parquet", production_rows(seed, week, week_data, production_per_week))
        written += [folder / "annotations.jsonl", folder / "production.parquet"]
    return written
