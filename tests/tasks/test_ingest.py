"""Ingest as a whole: idempotent re-runs, atomic replacement, batch failures that leave the store
as it was, the ledger, kill-safety, fsspec sources, the field map and the CLI's output.

Stays away from the catalogue of bad rows (test_bad_rows.py) and the expectation suite's details
(test_validate.py); Prefect is only touched through the plain function.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner

from judgeflow.config import load_settings
from judgeflow.errors import InputError, ValidationFailedError
from judgeflow.store import open_store
from tasks.ingest import ingest_week, ingest_week_task
from tasks.split import query_key

WEEK = "2026-W47"
REPO = Path(__file__).resolve().parents[2]


def rows(n: int, tag: str = "v1", start: int = 0) -> list[dict]:
    return [
        {"query": f"Where is the {tag} handbook {i % 7}", "document": f"{tag} document {i}", "rating": 1 + i % 5,
         "annotator": f"rater_{i}", "doc_id": f"doc-{i}"}
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, items: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in items), encoding="utf-8")
    return path


def snapshot(db_path) -> dict:
    with open_store(db_path) as con:
        return {
            "annotations": con.execute("SELECT * FROM annotations ORDER BY annotation_id").fetchall(),
            "production": con.execute("SELECT * FROM production_samples ORDER BY sample_id").fetchall(),
            "quarantine": con.execute("SELECT * FROM quarantine ORDER BY source, source_uri, source_row").fetchall(),
        }


def ledger(db_path) -> list[tuple]:
    with open_store(db_path) as con:
        return con.execute("SELECT source, status, rows_read, error FROM ingest_runs ORDER BY started_at").fetchall()


def test_ingesting_the_same_files_again_changes_nothing_and_is_recorded(tmp_path, db_path):
    source = write_jsonl(tmp_path / "a.jsonl", rows(20))
    first = ingest_week(db_path, WEEK, annotations=source)
    before = snapshot(db_path)
    second = ingest_week(db_path, WEEK, annotations=source)
    assert snapshot(db_path) == before
    assert second["annotations"] == first["annotations"]
    assert second["runs"]["annotations"]["status"] == "unchanged"
    assert [status for _, status, _, _ in ledger(db_path)] == ["ingested", "unchanged"]


def ledger_files(db_path) -> list[tuple]:
    """(status, fingerprint, [(file name, sha256, bytes)]) of every ledger row, oldest first."""
    with open_store(db_path) as con:
        found = con.execute("SELECT status, fingerprint, files FROM ingest_runs ORDER BY started_at").fetchall()
    return [(status, fp, [(Path(e["uri"]).name, e["sha256"], e["bytes"]) for e in json.loads(files)])
            for status, fp, files in found]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_ledger_holds_each_files_hash_whether_hashed_before_or_during_the_checks(tmp_path, db_path):
    # First ingest: no earlier run, so the files hash while the rows are checked. Second: the same
    # file rewritten to the same size with other content, hashed before, to decide. Third: another
    # size, so hashed during the checks again. The fourth, unchanged, must match the third's hash.
    source = tmp_path / "a.jsonl"
    write_jsonl(source, rows(20, "aaa"))
    hashes = [sha256_of(source)]
    first = ingest_week(db_path, WEEK, annotations=source)
    write_jsonl(source, rows(20, "bbb"))
    hashes.append(sha256_of(source))
    size = source.stat().st_size
    second = ingest_week(db_path, WEEK, annotations=source)
    write_jsonl(source, rows(21, "ccc"))
    hashes.append(sha256_of(source))
    third = ingest_week(db_path, WEEK, annotations=source)
    fourth = ingest_week(db_path, WEEK, annotations=source)

    assert [s["runs"]["annotations"]["status"] for s in (first, second, third, fourth)] == [
        "ingested", "ingested", "ingested", "unchanged"]
    assert [s["runs"]["annotations"]["files"][0]["sha256"] for s in (first, second, third)] == hashes
    found = ledger_files(db_path)
    assert [files for _, _, files in found] == [
        [("a.jsonl", hashes[0], size)], [("a.jsonl", hashes[1], size)],
        [("a.jsonl", hashes[2], source.stat().st_size)], [("a.jsonl", hashes[2], source.stat().st_size)]]
    fingerprints = [fp for _, fp, _ in found]
    assert None not in fingerprints and len(set(fingerprints[:3])) == 3 and fingerprints[3] == fingerprints[2]
    with open_store(db_path) as con:
        docs = {d.split()[0] for (d,) in con.execute("SELECT document FROM annotations").fetchall()}
    assert docs == {"ccc"}


def test_a_failed_run_still_records_the_hash_of_what_it_read(tmp_path, db_path):
    bad = write_jsonl(tmp_path / "b.jsonl", [*rows(10), *[{"query": "q", "document": "d", "rating": 9}] * 5])
    with pytest.raises(ValidationFailedError):
        ingest_week(db_path, WEEK, annotations=bad)
    ((status, fp, files),) = ledger_files(db_path)
    assert status == "failed" and fp is not None and files == [("b.jsonl", sha256_of(bad), bad.stat().st_size)]


def test_changed_files_replace_the_week_and_leave_other_weeks_alone(tmp_path, db_path):
    ingest_week(db_path, "2026-W46", annotations=write_jsonl(tmp_path / "w46.jsonl", rows(5, "w46")))
    ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", rows(20, "old")))
    summary = ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", rows(12, "new", 100)))
    assert summary["annotations"]["ingested"] == 12
    with open_store(db_path) as con:
        per_week = dict(con.execute("SELECT week, count(*) FROM annotations GROUP BY week").fetchall())
        docs = {d.split()[0] for (d,) in con.execute("SELECT document FROM annotations WHERE week = $w", {"w": WEEK}).fetchall()}
    assert per_week == {"2026-W46": 5, WEEK: 12}
    assert docs == {"new"}


def test_stored_query_keys_are_the_split_modules_keys(tmp_path, db_path):
    tricky = ["Ｓｔｒａßｅ  ﬁle", "  Tabs\tand\nnewlines ", "CAFÉ\u00a0menu", "plain"]
    items = [{"query": q, "document": f"d{i}", "rating": 3} for i, q in enumerate(tricky)]
    samples = [{"query": q, "document": f"d{i}"} for i, q in enumerate([*tricky, "production only"])]
    ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", items),
                production=write_jsonl(tmp_path / "p.jsonl", samples))
    with open_store(db_path) as con:
        stored = dict(con.execute("SELECT query, query_key FROM annotations").fetchall())
        # Production samples store no key of their own: query_keys has it, once per query.
        keyed = con.execute(
            "SELECT p.query, k.query_key FROM production_samples AS p JOIN query_keys AS k USING (query)"
        ).fetchall()
        assert con.execute("SELECT count(*) FROM query_keys").fetchone()[0] == len(tricky) + 1
    assert stored == {q: query_key(q) for q in tricky}
    assert dict(keyed) == {q: query_key(q) for q in [*tricky, "production only"]} and len(keyed) == len(samples)


def test_a_query_whose_key_is_stored_takes_the_stored_key(tmp_path, db_path):
    # A key is a function of the query alone: ingest reads a stored one instead of recomputing
    # it (a sentinel here, to tell the two apart) and computes only the keys of new queries.
    with open_store(db_path) as con:
        con.execute("INSERT INTO query_keys VALUES ('seen before', 'stored-key')")
    items = [{"query": q, "document": f"d{i}", "rating": 3} for i, q in enumerate(["seen before", "new query"])]
    ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", items),
                production=write_jsonl(tmp_path / "p.jsonl", [{"query": "seen before", "document": "d"}]))
    with open_store(db_path) as con:
        assert dict(con.execute("SELECT query, query_key FROM annotations").fetchall()) == {
            "seen before": "stored-key", "new query": query_key("new query")}
        assert con.execute("SELECT count(*) FROM query_keys").fetchone()[0] == 2


def test_a_quarantine_rate_above_the_threshold_fails_and_leaves_the_store_as_it_was(tmp_path, db_path):
    ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", rows(20)))
    before = snapshot(db_path)
    bad = write_jsonl(tmp_path / "b.jsonl", [*rows(18, "new"), {"query": "q", "document": "d", "rating": 9}, "oops"])
    with pytest.raises(ValidationFailedError, match=r"2 of 20 rows quarantined .*quarantine_threshold 5%"):
        ingest_week(db_path, WEEK, annotations=bad)
    assert snapshot(db_path) == before
    assert ledger(db_path)[-1][1] == "failed" and "quarantined" in ledger(db_path)[-1][3]
    with open_store(db_path) as con:
        stored = con.execute(
            "SELECT count(*) FROM validation_results v JOIN ingest_runs r ON v.ingest_run_id = r.run_id WHERE r.status = 'failed'"
        ).fetchone()[0]
    assert stored > 0


def test_a_missing_required_column_names_the_column_and_the_field_map(tmp_path, db_path):
    items = [{"query": f"q{i}", "document": "d", "label": 2} for i in range(5)]
    with pytest.raises(ValidationFailedError, match=r"'rating' is in no row.*--field-map rating="):
        ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", items))
    summary = ingest_week(db_path, WEEK, annotations=tmp_path / "a.jsonl", field_map={"rating": "label"})
    assert summary["annotations"]["ingested"] == 5
    assert snapshot(db_path)["quarantine"] == []


def test_an_empty_week_fails_with_one_line(tmp_path, db_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(ValidationFailedError, match="empty week"):
        ingest_week(db_path, WEEK, annotations=tmp_path / "empty.jsonl")
    assert snapshot(db_path) == {"annotations": [], "production": [], "quarantine": []}


def test_one_failing_source_keeps_the_other_from_being_written(tmp_path, db_path):
    good = write_jsonl(tmp_path / "a.jsonl", rows(10))
    prod = write_jsonl(tmp_path / "p.jsonl", [{"query": "", "document": "d"}] * 3)
    with pytest.raises(ValidationFailedError, match="production"):
        ingest_week(db_path, WEEK, annotations=good, production=prod)
    assert snapshot(db_path)["annotations"] == []
    assert sorted(status for _, status, _, _ in ledger(db_path)) == ["failed", "failed"]


def test_bad_arguments_raise_input_errors_naming_the_value(tmp_path, db_path):
    with pytest.raises(InputError, match="does not exist"):
        ingest_week(db_path, WEEK, annotations=tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="'ratng'"):
        ingest_week(db_path, WEEK, annotations=write_jsonl(tmp_path / "a.jsonl", rows(3)), field_map={"ratng": "x"})
    with pytest.raises(InputError, match="nothing to ingest"):
        ingest_week(db_path, WEEK)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match=r"notes\.txt"):
        ingest_week(db_path, WEEK, annotations=tmp_path / "notes.txt")


def test_an_fsspec_url_is_read_and_hashed(db_path):
    fs = fsspec.filesystem("memory")
    payload = "".join(json.dumps(r) + "\n" for r in rows(6)).encode()
    with fs.open("/jf-test/week/a.jsonl", "wb") as fh:
        fh.write(payload)
    summary = ingest_week(db_path, WEEK, annotations="memory://jf-test/week")
    assert summary["annotations"]["ingested"] == 6
    (entry,) = summary["runs"]["annotations"]["files"]
    assert entry["uri"] == "memory:///jf-test/week/a.jsonl"
    assert entry["sha256"] == hashlib.sha256(payload).hexdigest()


def test_the_prefect_task_wraps_the_same_function(tmp_path, db_path):
    summary = ingest_week_task.fn(str(db_path), WEEK, annotations=str(write_jsonl(tmp_path / "a.jsonl", rows(4))))
    assert summary["annotations"]["ingested"] == 4


def test_the_cli_prints_exactly_one_json_object_of_the_issue_shape(tmp_path):
    from judgeflow.cli import _register, cli

    _register()
    source = write_jsonl(tmp_path / "a.jsonl", [*rows(30), {"query": "q", "document": "d", "rating": 0}])
    prod = write_jsonl(tmp_path / "p.jsonl", [{"query": "q", "document": "d", "sample_id": "s1"}])
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(
        cli, ["ingest", "--week", WEEK, "--annotations", str(source), "--production", str(prod), "--db", str(db), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary["annotations"]) == {"read", "ingested", "quarantined", "reasons"}
    assert summary["annotations"] == {"read": 31, "ingested": 30, "quarantined": 1, "reasons": {"rating_out_of_range": 1}}
    assert summary["production"] == {"read": 1, "ingested": 1, "quarantined": 0, "reasons": {}}
    assert summary["week"] == WEEK

    human = CliRunner().invoke(cli, ["ingest", "--week", WEEK, "--annotations", str(source), "--db", str(db)])
    assert human.exit_code == 0, human.output
    assert "ingested + quarantined = read: yes" in human.output and "(unchanged)" in human.output


def test_the_cli_turns_bad_input_into_one_line(tmp_path):
    from judgeflow.cli import _register, cli

    _register()
    result = CliRunner().invoke(cli, ["ingest", "--week", WEEK, "--annotations", str(tmp_path / "a.jsonl"), "--field-map", "rating"])
    assert result.exit_code != 0
    assert "--field-map takes target=column" in result.output
    assert "Traceback" not in result.output


_KILL_CHILD = textwrap.dedent(
    """
    import sys
    import great_expectations  # imported before "ready" so the kill times hit the ingest itself
    from judgeflow.config import load_settings
    from tasks.ingest import ingest_week
    print("ready", flush=True)
    ingest_week(sys.argv[1], "2026-W47", annotations=sys.argv[2], settings=load_settings(quarantine_threshold=1.0))
    print("done", flush=True)
    """
)


def _run_child(db_path, source, kill_after: float | None) -> float:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(db_path), str(source)],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    assert child.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    if kill_after is None:
        child.wait(timeout=300)
    else:
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    return time.perf_counter() - started


def test_a_process_killed_mid_ingest_leaves_the_old_week_or_the_new_never_a_mix(tmp_path, db_path):
    old = write_jsonl(tmp_path / "old.jsonl", [*rows(60_000, "old"), "broken"])
    new = write_jsonl(tmp_path / "new.jsonl", [*rows(50_000, "new", 10**6), "broken", "broken"])
    settings = load_settings(quarantine_threshold=1.0)
    ingest_week(db_path, WEEK, annotations=old, settings=settings)
    started = time.perf_counter()
    ingest_week(tmp_path / "probe.duckdb", WEEK, annotations=new, settings=settings)
    full = time.perf_counter() - started
    states = set()
    for fraction in (0.3, 0.7, 1.0):
        _run_child(db_path, new, full * fraction)
        with open_store(db_path) as con:
            tags = con.execute("SELECT split_part(document, ' ', 1) AS tag, count(*) FROM annotations GROUP BY tag").fetchall()
            quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        state = dict(tags), quarantined
        assert state in [({"old": 60_000}, 1), ({"new": 50_000}, 2)], state
        states.add(str(state))
    with open_store(db_path) as con:
        statuses = [s for (s,) in con.execute("SELECT status FROM ingest_runs ORDER BY started_at").fetchall()]
    assert statuses[0] == "ingested"
    # A killed attempt leaves its ledger row behind as 'running': every attempt is on record.
    assert len(statuses) >= 2 and set(statuses[1:]) <= {"running", "ingested", "unchanged"}
