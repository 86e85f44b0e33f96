"""Sample data generator, rater rules and the instruction library seed catalogue.

Stays away from ingest and validation: files are read back with json and DuckDB directly,
and bad rows are recognised by checks written here, not by the generator's own labels.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from judge.scale import Scale
from judge.types import JudgeExample
from judgeflow.errors import InputError
from judgeflow.sample_data import RATERS, Doc, generate, parse_query, rate
from judgeflow.sample_data.corpus import FILLER, LEADS, MENTION, TITLES, TOPICS, build_corpus
from judgeflow.sample_data.generate import HEDGES
from judgeflow.sample_data.rules import QUERY_TEMPLATES, STOPWORDS, tokens
from judgeflow.weeks import week_bounds

END = "2026-W46"
WEEKS = ("2026-W41", "2026-W42", "2026-W43", "2026-W44", "2026-W45", "2026-W46")
LIBRARY = Path(__file__).resolve().parents[2] / "judge" / "library" / "instructions.jsonl"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, weeks=len(WEEKS), seed=7, end_week=END)
    return out


def annotations(folder: Path, week: str) -> list[dict]:
    return [json.loads(line) for line in (folder / week / "annotations.jsonl").read_text("utf-8").splitlines()]


def production(folder: Path, week: str) -> list[dict]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / week / 'production.parquet'}')").fetchall()


def faults(row: dict, week: str, time_field: str) -> list[str]:
    """What is wrong with one row, judged from the row alone."""
    start, end = week_bounds(week)
    found = []
    if not isinstance(row.get("query"), str) or not row["query"].strip():
        found.append("missing_query")
    if not str(row.get("document") or "").strip():
        found.append("empty_document")
    rating = row.get("rating", 1)
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        found.append("bad_rating")
    moment = row[time_field]
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if not start <= moment < end:
        found.append("wrong_week")
    return found


def bad_share(rows: list[dict], week: str, id_field: str, time_field: str) -> float:
    """Share of rows a validator would quarantine; both rows of a duplicated id count."""
    ids = Counter(r[id_field] for r in rows)
    bad = [r for r in rows if faults(r, week, time_field) or ids[r[id_field]] > 1]
    return len(bad) / len(rows)


def as_doc(row: dict) -> Doc:
    return Doc.from_fields(title=row["title"], doc_type=row["doc_type"], modified_at=row["modified_at"],
                           document=row["document"], doc_id=row["doc_id"])


def test_same_seed_writes_byte_identical_files(tmp_path):
    first = generate(tmp_path / "a", weeks=2, seed=11, end_week=END, production_per_week=50)
    second = generate(tmp_path / "b", weeks=2, seed=11, end_week=END, production_per_week=50)
    other = generate(tmp_path / "c", weeks=2, seed=12, end_week=END, production_per_week=50)
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        Path("2026-W45/annotations.jsonl"), Path("2026-W45/production.parquet"),
        Path("2026-W46/annotations.jsonl"), Path("2026-W46/production.parquet"),
    ]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert first[0].read_bytes() != other[0].read_bytes()


def test_a_week_does_not_depend_on_how_many_weeks_are_written(tmp_path, sample):
    generate(tmp_path, weeks=1, seed=7, end_week=END)
    for name in ("annotations.jsonl", "production.parquet"):
        assert (tmp_path / END / name).read_bytes() == (sample / END / name).read_bytes()


def test_ratings_follow_the_rules_except_hedged_noise(sample):
    checked = noisy = exact = 0
    for week in WEEKS:
        for row in annotations(sample, week):
            if faults(row, week, "created_at"):
                continue
            expected, _, applied = rate(row["query"], as_doc(row), as_of=datetime.fromisoformat(row["created_at"]))
            checked += 1
            if row["explanation"].endswith(HEDGES):
                noisy += 1
                assert abs(row["rating"] - expected) == 1, row
            else:
                assert row["rating"] == expected, row
                if applied == ("exact_title",):
                    exact += 1
                    assert row["rating"] == 5
    assert checked > 300
    assert 0.05 < noisy / checked < 0.3
    assert exact >= 5


def test_ratings_use_the_whole_scale_and_every_rule(sample):
    ratings, rules = Counter(), Counter()
    for week in WEEKS:
        for row in annotations(sample, week):
            if faults(row, week, "created_at"):
                continue
            ratings[row["rating"]] += 1
            created = datetime.fromisoformat(row["created_at"])
            rules.update(rate(row["query"], as_doc(row), as_of=created)[2])
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert min(ratings.values()) >= 10
    assert {"exact_title", "topical", "recency", "evergreen", "doc_type"} <= set(rules)


def test_bad_row_share_stays_between_half_and_five_percent_every_week(sample):
    kinds = Counter()
    for week in WEEKS:
        rows = annotations(sample, week)
        assert 0.005 <= bad_share(rows, week, "annotation_id", "created_at") < 0.05
        prod = [dict(zip(("sample_id", "query", "document", "doc_id", "seen_at", "metadata", "judge_raw_output"), r, strict=True))
                for r in production(sample, week)]
        assert 0.005 <= bad_share(prod, week, "sample_id", "seen_at") < 0.05
        for row in rows:
            kinds.update(faults(row, week, "created_at"))
            kinds["rating_word"] += isinstance(row.get("rating"), str)
            kinds["missing_field"] += "query" not in row
    # Over six weeks the faults vary rather than repeating one kind.
    assert len(+kinds) >= 3


def test_created_at_lies_inside_the_week_except_deliberate_wrong_week_rows(sample):
    for week in WEEKS:
        start, end = week_bounds(week)
        rows = annotations(sample, week)
        outside = [r for r in rows if not start <= datetime.fromisoformat(r["created_at"]) < end]
        assert len(outside) <= 1
        assert all(datetime.fromisoformat(r["created_at"]) < start for r in outside)
        assert all(datetime.fromisoformat(r["modified_at"]) < start for r in rows)


def test_files_are_readable_by_duckdb_with_the_expected_columns(sample):
    ann = duckdb.sql(f"SELECT * FROM read_json_auto('{sample}/*/annotations.jsonl')")
    assert {"annotation_id", "query", "document", "rating", "explanation", "annotator", "doc_id",
            "title", "doc_type", "modified_at", "created_at"} <= set(ann.columns)
    assert duckdb.sql(f"SELECT count(*) FROM read_json_auto('{sample}/*/annotations.jsonl')").fetchall() == [(60 * len(WEEKS),)]
    prod = duckdb.sql(f"SELECT * FROM read_parquet('{sample}/*/production.parquet')")
    types = dict(zip(prod.columns, (str(t) for t in prod.types), strict=True))
    assert types["seen_at"] == "TIMESTAMP"
    assert types["metadata"].startswith("STRUCT(title VARCHAR, doc_type VARCHAR, modified_at VARCHAR")
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{sample}/*/production.parquet')").fetchall() == [(600 * len(WEEKS),)]
    doc_types = {r[0] for r in duckdb.sql(f"SELECT DISTINCT metadata.doc_type FROM read_parquet('{sample}/*/production.parquet')").fetchall()}
    assert doc_types == {"file", "message", "wiki", "ticket", "person"}


def test_production_judge_output_is_mostly_json_and_sometimes_malformed(sample):
    raw = [r[6] for week in WEEKS for r in production(sample, week)]
    parsed = 0
    for text in raw:
        try:
            parsed += isinstance(json.loads(text or "null"), dict) and isinstance(json.loads(text)["rating"], int)
        except (json.JSONDecodeError, KeyError):
            pass
    assert 0.8 < parsed / len(raw) < 0.95


def test_documents_are_mostly_short_with_a_few_long_ones(sample):
    lengths = [len(r["document"]) for week in WEEKS for r in annotations(sample, week) if r["document"]]
    assert sum(200 <= n <= 700 for n in lengths) / len(lengths) > 0.8
    assert max(lengths) <= 3000
    assert any(n > 1500 for n in lengths)


def test_queries_come_back_across_weeks_and_new_ones_appear(sample):
    seen: set[str] = set()
    for n, week in enumerate(WEEKS):
        queries = {" ".join(r["query"].casefold().split()) for r in annotations(sample, week) if r.get("query")}
        if n:
            assert queries & seen and queries - seen
        if n >= 3:  # the popular part of the stable pool has come round by now
            assert len(queries & seen) / len(queries) > 0.35
        seen |= queries
    annotators = {r["annotator"] for week in WEEKS for r in annotations(sample, week)}
    assert annotators == set(RATERS)


def test_every_query_template_parses_back_to_its_topic_and_intent():
    for phrase, _ in TOPICS:
        for intent, pattern in QUERY_TEMPLATES:
            spec = parse_query("  " + pattern.format(p=phrase).upper())
            assert (spec.phrase, spec.intent) == (phrase, intent)


def test_rate_applies_each_written_rule():
    now = datetime(2026, 11, 20)
    fresh, old = now - timedelta(days=30), now - timedelta(days=400)
    wiki = Doc("w1", "Vpn Access", "wiki", fresh, "This page describes vpn access. More text.")
    assert rate("VPN  access", wiki, as_of=now) == (5, rate("vpn access", wiki, as_of=now)[1], ("exact_title",))
    assert rate("latest on vpn access", wiki, as_of=now)[::2] == (4, ("topical",))
    stale = Doc("w2", "Vpn Access FAQ", "wiki", old, "This page describes vpn access.")
    assert rate("latest on vpn access", stale, as_of=now)[::2] == (3, ("topical", "recency"))
    assert rate("latest on vpn access", stale, as_of=now, rules=("topical",))[0] == 4
    policy = Doc("w3", "Travel Policy", "wiki", old, "Everything about travel policy.")
    assert rate("latest on travel policy", policy, as_of=now)[::2] == (4, ("topical", "evergreen"))
    assert rate("ticket about vpn access", wiki, as_of=now)[::2] == (3, ("topical", "doc_type"))
    mention = Doc("t1", "ENG-1: payments outage broken", "ticket", fresh, "Payments are down. Related: vpn access.")
    assert rate("vpn access", mention, as_of=now)[0] == 3
    partial = Doc("t2", "Badge Access", "ticket", old, "Badge access broken.")
    assert rate("who owns vpn access", partial, as_of=now)[::2] == (1, ("topical", "recency", "doc_type", "clamp"))
    _, explanation, _ = rate("who owns vpn access", partial, as_of=now)
    assert "recency" in explanation and "type" in explanation
    with pytest.raises(InputError, match="'freshness'"):
        rate("vpn access", wiki, as_of=now, rules=("freshness",))


def test_filler_text_never_contains_a_topic_or_title_word():
    reserved = {t for phrase, _ in TOPICS for t in tokens(phrase)}
    reserved |= {t for group in TITLES.values() for pattern in group for t in tokens(pattern.format(P="", K="", n="", team=""))}
    reserved -= STOPWORDS
    for sentence in (*FILLER, *(m.format(m="") for m in MENTION), *(lead.format(p="", team="") for g in LEADS.values() for lead in g)):
        assert not reserved & set(tokens(sentence)), sentence


def test_person_profiles_lead_with_the_topics_they_own():
    people = [c for c in build_corpus(0, datetime(2026, 11, 16)) if c.doc.doc_type == "person"]
    assert people
    for c in people:
        for topic in c.topics:
            assert rate(f"who owns {topic}", c.doc, as_of=datetime(2026, 11, 16))[0] == 4


def test_bad_arguments_raise_input_errors_naming_the_value(tmp_path):
    with pytest.raises(InputError, match="0"):
        generate(tmp_path, weeks=0)
    with pytest.raises(InputError, match="'2026-W99'"):
        generate(tmp_path, weeks=1, end_week="2026-W99")
    with pytest.raises(InputError, match="'x'"):
        generate(tmp_path, seed="x")


def test_cli_prints_the_files_it_wrote(tmp_path):
    from judgeflow.cli import _register, cli

    _register()
    result = CliRunner().invoke(cli, ["sample-data", "--weeks", "2", "--seed", "1", "--out", str(tmp_path / "d"),
                                      "--end-week", "2026-W10", "--annotations-per-week", "30",
                                      "--production-per-week", "40"])
    assert result.exit_code == 0, result.output
    printed = result.output.split()
    assert printed == [str(tmp_path / "d" / w / f) for w in ("2026-W09", "2026-W10")
                       for f in ("annotations.jsonl", "production.parquet")]
    assert len(annotations(tmp_path / "d", "2026-W10")) == 30
    bad = CliRunner().invoke(cli, ["sample-data", "--weeks", "-1", "--out", str(tmp_path / "e")])
    assert bad.exit_code != 0 and "weeks must be an integer >= 1, got -1" in bad.output


def load_library() -> list[dict]:
    return [json.loads(line) for line in LIBRARY.read_text("utf-8").splitlines() if line.strip()]


def test_library_catalogue_has_well_formed_scale_free_rules():
    from judge.guardrails import find_other_scales
    from judge.library import load_catalogue

    rows = load_library()
    assert 8 <= len(rows) <= 12
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"id", "text", "provenance", "author", "date", "version"}
        assert row["text"].strip() and "\n" not in row["text"]
        assert not re.search(r"\d", row["text"]), row["text"]  # no number, so no other scale
        assert find_other_scales(row["text"], Scale()) == []
    assert [b.id for b in load_catalogue(LIBRARY).bullets] == [r["id"] for r in rows]


def test_library_rules_copy_no_eight_word_run_or_identifier_from_the_data(sample):
    from judge.guardrails import LeakIndex, find_leaks

    examples = [
        JudgeExample(id=r["annotation_id"], query=r.get("query") or "", document=r["document"],
                     explanation=r["explanation"], annotator=r["annotator"], doc_id=r["doc_id"])
        for week in WEEKS for r in annotations(sample, week)
    ]
    index = LeakIndex.from_examples(examples)
    for row in load_library():
        assert find_leaks(row["text"], index) == [], row["id"]


def test_bad_row_plan_stays_under_the_quarantine_limit_at_every_size():
    import random

    from judgeflow.sample_data.generate import ANNOTATION_BAD_KINDS, bad_row_plan

    for rows in range(1, 2001):
        plan = bad_row_plan(random.Random(rows), rows, ANNOTATION_BAD_KINDS)
        assert (len(plan) + plan.count("duplicate_id")) / rows < 0.05, rows
        if rows >= 25:
            assert len(plan) / rows >= 0.005, rows
