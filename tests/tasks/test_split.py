"""Sticky splits and example loading. Stays away from ingest: annotations go in by plain SQL
INSERTs, and Prefect is only touched through the task's plain function."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from judgeflow.errors import InputError
from tasks.split import (
    assign_splits,
    assign_splits_task,
    load_examples,
    query_key,
    register_query_key,
    split_for_key,
    split_snapshot,
)

INSERT = """
INSERT INTO annotations (annotation_id, week, query, query_key, document, doc_id, rating,
    explanation, annotator, title, doc_type, modified_at, created_at, content_hash,
    source_uri, source_row, ingest_run_id)
VALUES ($id, $week, $query, $key, $document, $doc_id, $rating, 'because', 'rater_ana',
    'A title', 'wiki', TIMESTAMP '2025-01-02 03:04:05', TIMESTAMP '2026-11-10 09:00:00',
    hash($id), 'test://rows', 0, 'run-test')
"""


def add(con, week, query, document="doc", *, ann_id=None, rating=3):
    """Insert one annotation row the way ingest would store it."""
    ann_id = ann_id or f"{week}:{query}:{document}"
    con.execute(
        INSERT,
        {
            "id": ann_id,
            "week": week,
            "query": query,
            "key": query_key(query),
            "document": document,
            "doc_id": document,
            "rating": rating,
        },
    )
    return ann_id


BULK_INSERT = """
INSERT INTO annotations (annotation_id, week, query, query_key, document, doc_id, rating,
    content_hash, source_uri, source_row, ingest_run_id)
SELECT $week || ':' || q || ':' || d, $week, q, judgeflow_query_key(q), d, d, 3, hash(d), 'test://rows', 0, 'run-test'
FROM (SELECT unnest($queries) AS q, unnest($documents) AS d)
"""


def add_many(con, week, queries, documents=None):
    """Insert many annotation rows in one statement (ids are week:query:document)."""
    register_query_key(con)
    con.execute(BULK_INSERT, {"week": week, "queries": list(queries),
                              "documents": list(documents or ["doc"] * len(queries))})


def stored_splits(con):
    return dict(con.execute("SELECT query_key, split FROM splits").fetchall())


def test_query_key_normalises_unicode_case_and_whitespace():
    assert query_key("  VPN\u00a0 access\t") == query_key("vpn access")
    assert query_key("Ｖｐｎ access") == query_key("vpn access")  # full-width letters, NFKC
    assert query_key("Straße") == query_key("STRASSE")  # casefold, not lower
    assert query_key("vpn access") == hashlib.sha256(b"vpn access").hexdigest()
    assert query_key("vpn access") != query_key("vpn-access")


def test_query_key_rejects_a_missing_query_with_its_value():
    with pytest.raises(InputError, match="None"):
        query_key(None)


def test_registered_sql_function_computes_the_same_key(con):
    register_query_key(con)
    register_query_key(con)  # a second registration is harmless
    queries = ["Who owns  VPN access?", "Ｓｔｒａßｅ", "", " \u2003tab\there "]
    got = [con.execute("SELECT judgeflow_query_key($q)", {"q": q}).fetchone()[0] for q in queries]
    assert got == [query_key(q) for q in queries]


def test_assignment_is_deterministic_across_stores(tmp_path):
    from judgeflow.store import connect

    results = []
    for name in ("a.duckdb", "b.duckdb"):
        con = connect(tmp_path / name)
        for i in range(50):
            add(con, "2026-W40", f"query {i}")
        assign_splits(con, "2026-W40")
        results.append(stored_splits(con))
        con.close()
    assert results[0] == results[1]
    assert len(results[0]) == 50


def test_sql_assignment_matches_the_python_rule(con):
    add_many(con, "2026-W40", [f"q{i}" for i in range(300)])
    assign_splits(con, "2026-W40", (0.5, 0.3, 0.2))
    stored = stored_splits(con)
    assert stored == {key: split_for_key(key, (0.5, 0.3, 0.2)) for key in stored}


def test_all_pairs_of_one_query_share_a_split(con):
    # Surface variants of one query normalise to one key.
    pairs = [(f"Topic {i}" if doc % 2 else f"  topic   {i} ", f"doc-{doc}") for i in range(40) for doc in range(4)]
    add_many(con, "2026-W40", [q for q, _ in pairs], [d for _, d in pairs])
    assign_splits(con, "2026-W40")
    by_query = {}
    for split in ("train", "dev", "test"):
        for ex in load_examples(con, split, "2026-W40"):
            by_query.setdefault(query_key(ex.query), set()).add(split)
    assert len(by_query) == 40
    assert all(len(splits) == 1 for splits in by_query.values())


def test_splits_are_sticky_across_weeks_even_when_ratios_change(con):
    old_queries = [f"old query {i}" for i in range(200)]
    add_many(con, "2026-W40", old_queries)
    first = assign_splits(con, "2026-W40", (0.7, 0.15, 0.15))
    before = stored_splits(con)
    assert sum(first["new"].values()) == 200

    add_many(con, "2026-W41", old_queries, ["another doc"] * len(old_queries))
    add_many(con, "2026-W41", [f"new query {i}" for i in range(100)])
    # Ratios that would put every fresh key into test.
    second = assign_splits(con, "2026-W41", (0.0, 0.0, 1.0))
    after = stored_splits(con)

    assert {k: after[k] for k in before} == before
    assert any(split != "test" for split in before.values())
    assert second["new"] == {"train": 0, "dev": 0, "test": 100}
    assert sum(second["total"].values()) == 300
    first_weeks = dict(con.execute("SELECT query_key, first_week FROM splits").fetchall())
    assert first_weeks[query_key("old query 0")] == "2026-W40"
    assert first_weeks[query_key("new query 0")] == "2026-W41"


def test_running_assignment_twice_adds_nothing(con):
    for i in range(30):
        add(con, "2026-W40", f"q{i}")
    assign_splits(con, "2026-W40")
    again = assign_splits(con, "2026-W40")
    assert again["new"] == {"train": 0, "dev": 0, "test": 0}
    assert sum(again["total"].values()) == 30


def test_a_query_document_pair_is_never_in_two_splits(con):
    for w, week in enumerate(("2026-W40", "2026-W41", "2026-W42")):
        add_many(con, week, [f"query {i % 45}" for i in range(60)], [f"doc {(i + w) % 7}" for i in range(60)])
        assign_splits(con, week, (0.6, 0.2, 0.2) if week == "2026-W41" else (0.7, 0.15, 0.15))
    seen = {}
    for split in ("train", "dev", "test"):
        for ex in load_examples(con, split, "2026-W42"):
            pair = (query_key(ex.query), ex.document)
            assert seen.setdefault(pair, split) == split
    assert len(seen) > 100


def test_ratios_are_roughly_respected_on_two_thousand_queries(con):
    register_query_key(con)
    con.execute(
        """
        INSERT INTO annotations (annotation_id, week, query, query_key, document, rating,
            content_hash, source_uri, source_row, ingest_run_id)
        SELECT 'a' || i, '2026-W40', 'query number ' || i, judgeflow_query_key('query number ' || i),
            'd', 3, hash(i), 'test://rows', i, 'run-test'
        FROM range(2000) AS t(i)
        """
    )
    result = assign_splits(con, "2026-W40")
    shares = {s: n / 2000 for s, n in result["new"].items()}
    assert abs(shares["train"] - 0.70) < 0.035
    assert abs(shares["dev"] - 0.15) < 0.025
    assert abs(shares["test"] - 0.15) < 0.025


def test_load_examples_respects_weeks_split_order_and_limit(con):
    for week in ("2026-W40", "2026-W41", "2026-W42"):
        for i in range(30):
            add(con, week, f"query {i}", ann_id=f"{week}-{i:02d}", rating=1 + i % 5)
        assign_splits(con, week)
    keys = stored_splits(con)
    train = load_examples(con, "train", "2026-W41")
    expected_train = sum(keys[query_key(f"query {i}")] == "train" for i in range(30))
    assert len(train) == 2 * expected_train
    assert {ex.week for ex in train} == {"2026-W40", "2026-W41"}
    assert all(keys[query_key(ex.query)] == "train" for ex in train)
    assert [ex.id for ex in train] == sorted(ex.id for ex in train)
    assert load_examples(con, "train", "2026-W41", limit=3) == train[:3]
    # The gate reads the test split, so it must be reachable.
    test = load_examples(con, "test", "2026-W42")
    assert test and all(keys[query_key(ex.query)] == "test" for ex in test)
    first = train[0]
    assert first.gold == 1 + int(first.id[-2:]) % 5
    assert first.modified_at == "2025-01-02T03:04:05"
    assert (first.title, first.doc_type, first.annotator) == ("A title", "wiki", "rater_ana")


def test_annotations_of_unassigned_queries_are_not_loaded(con):
    add(con, "2026-W40", "assigned")
    assign_splits(con, "2026-W40")
    add(con, "2026-W41", "not yet assigned")
    loaded = [ex.query for s in ("train", "dev", "test") for ex in load_examples(con, s, "2026-W41")]
    assert loaded == ["assigned"]


def test_split_snapshot_counts_rows_and_hashes_sorted_ids(con):
    ids = [add(con, "2026-W40", f"query {i}", ann_id=f"id-{i:03d}") for i in range(80)]
    add(con, "2026-W41", "query 1", ann_id="id-later")
    assign_splits(con, "2026-W40")
    snap = split_snapshot(con, "2026-W40")
    keys = stored_splits(con)
    for split in ("train", "dev", "test"):
        mine = sorted(i for n, i in enumerate(ids) if keys[query_key(f"query {n}")] == split)
        assert snap["splits"][split]["rows"] == len(mine)
        assert snap["splits"][split]["ids_sha256"] == hashlib.sha256("\n".join(mine).encode()).hexdigest()
    assert snap["week"] == "2026-W40"


def test_split_snapshot_of_an_empty_store_has_three_empty_splits(con):
    snap = split_snapshot(con, "2026-W40")
    assert Counter(v["rows"] for v in snap["splits"].values()) == {0: 3}


def test_bad_inputs_raise_input_errors_naming_the_value(con):
    with pytest.raises(InputError, match=r"0\.9"):
        assign_splits(con, "2026-W40", (0.9, 0.2, 0.1))
    with pytest.raises(InputError, match="'2026-40'"):
        assign_splits(con, "2026-40")
    with pytest.raises(InputError, match="'validation'"):
        load_examples(con, "validation", "2026-W40")
    with pytest.raises(InputError, match="-1"):
        load_examples(con, "train", "2026-W40", limit=-1)


def test_prefect_task_wraps_the_plain_function(con):
    add(con, "2026-W40", "q")
    result = assign_splits_task.fn(con, "2026-W40")
    assert result["new"][split_for_key(query_key("q"))] == 1
    assert assign_splits_task.name == "assign-splits"


LOAD_SAMPLE_WEEK = """
INSERT INTO annotations (annotation_id, week, query, query_key, document, doc_id, rating,
    explanation, annotator, title, doc_type, modified_at, created_at, content_hash,
    source_uri, source_row, ingest_run_id)
SELECT annotation_id, $week, query, judgeflow_query_key(query), document, doc_id,
    rating::INTEGER, explanation, annotator, title, doc_type, modified_at::TIMESTAMP,
    created_at::TIMESTAMP, hash(annotation_id), $path, 0, 'run-test'
FROM read_json_auto($path)
WHERE query IS NOT NULL AND document <> '' AND TRY_CAST(rating AS INTEGER) BETWEEN 1 AND 5
QUALIFY row_number() OVER (PARTITION BY annotation_id ORDER BY created_at) = 1
"""


def test_sample_weeks_keep_their_splits_and_examples_follow_the_rater_rules(con, tmp_path):
    from judgeflow.sample_data import generate, rate_example

    files = generate(tmp_path / "data", weeks=4, seed=3, end_week="2026-W46", production_per_week=0)
    register_query_key(con)
    history: dict[str, str] = {}
    for path in files[::2]:
        week = path.parent.name
        con.execute(LOAD_SAMPLE_WEEK, {"week": week, "path": str(path)})
        result = assign_splits(con, week)
        stored = stored_splits(con)
        assert {k: stored[k] for k in history} == history
        history = stored
        assert sum(result["total"].values()) == len(stored)
    examples = [ex for s in ("train", "dev", "test") for ex in load_examples(con, s, "2026-W46")]
    assert len(examples) == con.execute("SELECT count(*) FROM annotations").fetchone()[0]
    agree = sum(rate_example(ex)[0] == ex.gold for ex in examples)
    assert agree / len(examples) > 0.75  # the rest is rater noise and the odd one-year boundary
