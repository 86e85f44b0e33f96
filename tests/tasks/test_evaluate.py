"""The evaluation engine through the real client path: RelevanceJudge -> dspy -> litellm ->
the loopback fake server, with a fresh DuckDB file per test.

Stays away from: the network beyond 127.0.0.1, the real local model (see
tests/judge/test_local_model.py), Prefect's API (the task is called through ``.fn``),
and wall-clock throughput (bench/bench_evaluate.py measures that).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from judge.lm import BudgetExhausted, CallBudget, build_lm
from judge.program import RelevanceJudge
from judge.scale import Scale
from judge.types import PARSE_ERROR_KINDS, JudgeExample
from judgeflow.errors import InputError
from tasks.evaluate import EvalResult, LMErrorRateExceeded, evaluate_program
from tasks.evaluation.retry import RetryPolicy
from tests.fakes.fixtures import fake_lm_config
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    Reply,
    hang,
    parse_error_answer,
    per_prompt,
    rate_limited,
    server_error,
    valid_answer,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05)
SCALE = Scale()


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(log_path=tmp_path / "llm_requests.jsonl") as server:
        yield server


def examples(n: int, prefix: str = "q") -> list[JudgeExample]:
    return [
        JudgeExample(id=f"ex-{i}", query=f"{prefix} query {i}", document=f"document number {i}", gold=1 + i % 5)
        for i in range(n)
    ]


def run(server: FakeOpenAIServer, con: duckdb.DuckDBPyConnection, items: list[JudgeExample], **options) -> EvalResult:
    cfg = fake_lm_config(server, **options.pop("cfg", {}))
    options.setdefault("retry", FAST)
    options.setdefault("progress", False)
    return evaluate_program(RelevanceJudge(scale=SCALE), items, cfg, scale=SCALE, con=con, **options)


def prediction_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    cursor = con.execute("SELECT * FROM predictions WHERE run_id = $run_id ORDER BY example_id", {"run_id": run_id})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_valid_answers_are_scored_and_every_prediction_is_stored(fake_llm, con) -> None:
    items = examples(6)
    result = run(fake_llm, con, items, split="test", week="2026-W47", label="champion")
    assert [o.status for o in result.outputs] == ["ok"] * 6
    assert [o.rating for o in result.outputs] == [4] * 6
    assert result.calls == 6 == fake_llm.calls and result.cache_hits == 0 and result.n_lm_errors == 0
    assert result.metrics["n"] == 6 and result.metrics["parse_rate"] == 1.0
    assert result.example_ids == [e.id for e in items] and result.golds == [e.gold for e in items]
    rows = prediction_rows(con, result.run_id)
    assert len(rows) == 6
    first = rows[0]
    assert first["status"] == "ok" and first["rating"] == 4 and first["cached"] is False
    assert first["raw"] == '{"rating": 4, "explanation": "The document answers the query."}'
    assert first["program_hash"] == result.program_hash and first["lm_identity"] == result.lm_identity
    assert fake_llm.api_base in first["lm_identity"]
    assert (first["split"], first["week"], first["calls"]) == ("test", "2026-W47", 1)
    assert first["prompt_tokens"] == 50 and first["latency_s"] > 0
    run_row = con.execute(
        "SELECT status, n_examples, n_ok, calls, cache_hits, label FROM eval_runs WHERE run_id = $r",
        {"r": result.run_id},
    ).fetchone()
    assert run_row == ("completed", 6, 6, 6, 0, "champion")


@pytest.mark.parametrize("kind", PARSE_ERROR_KINDS)
def test_each_contract_violation_is_recorded_as_its_parse_error_kind(fake_llm, con, kind: str) -> None:
    fake_llm.set_responder(parse_error_answer(kind))
    result = run(fake_llm, con, examples(2))
    assert [(o.status, o.error_kind) for o in result.outputs] == [("parse_error", kind)] * 2
    assert all(o.raw for o in result.outputs)  # the raw text is kept for every prediction
    assert result.calls == 2  # no hidden second call through a fallback adapter
    assert result.metrics["parse_rate"] == 0.0 and result.metrics["nmse"] == 100.0
    assert {r["error_kind"] for r in prediction_rows(con, result.run_id)} == {kind}


@pytest.mark.parametrize(
    "failure",
    [rate_limited(retry_after=None), server_error(500), server_error(503)],
    ids=["429", "500", "503"],
)
def test_transient_failures_are_retried_and_every_call_is_counted(fake_llm, con, failure: Reply) -> None:
    fake_llm.set_responder(per_prompt(lambda text, seen: failure if seen == 0 else valid_answer(3)))
    result = run(fake_llm, con, examples(4))
    assert [o.status for o in result.outputs] == ["ok"] * 4
    assert result.calls == 8 == fake_llm.calls
    assert [r["calls"] for r in prediction_rows(con, result.run_id)] == [2] * 4


def test_a_call_hanging_past_the_timeout_is_abandoned_and_retried(fake_llm, con) -> None:
    fake_llm.set_responder(per_prompt(lambda text, seen: hang(10) if seen == 0 else valid_answer(2)))
    started = time.perf_counter()
    result = run(fake_llm, con, examples(2), cfg={"timeout_s": 0.5})
    assert [o.rating for o in result.outputs] == [2, 2]
    assert result.calls == 4
    assert time.perf_counter() - started < 5  # the 10 s hangs were not waited out


def test_retry_after_is_honoured_before_the_next_attempt(fake_llm, con) -> None:
    fake_llm.set_responder(per_prompt(lambda text, seen: rate_limited(retry_after=1) if seen == 0 else valid_answer(5)))
    result = run(fake_llm, con, examples(1), retry=RetryPolicy(max_retries=2, base_delay=0.01))
    assert result.outputs[0].rating == 5
    first, second = fake_llm.chat_requests
    assert second.received_at - first.received_at >= 0.95  # backoff alone would have waited ~0.01 s


def test_an_example_whose_attempts_all_fail_is_an_lm_error_not_a_score(fake_llm, con) -> None:
    items = examples(10)
    broken = items[3].query
    fake_llm.set_responder(lambda req: server_error() if broken in str(req) else valid_answer(4))
    result = run(fake_llm, con, items, lm_error_threshold=0.2)
    bad = result.outputs[3]
    assert (bad.status, bad.error_kind, bad.rating) == ("lm_error", "LMServerError", None)
    assert result.n_lm_errors == 1
    assert result.metrics["n"] == 9  # scored without the lm_error row
    assert result.calls == 9 + 3  # one call each, three attempts for the broken one


def test_too_many_lm_errors_stop_the_evaluation_with_a_clear_message(fake_llm, con) -> None:
    items = examples(10)
    fake_llm.set_responder(lambda req: server_error() if "query 3" in str(req) else valid_answer(4))
    with pytest.raises(LMErrorRateExceeded) as caught:
        run(fake_llm, con, items)
    message = str(caught.value)
    assert message.startswith(f"1 of 10 examples (10.0%) failed at the LM endpoint {fake_llm.api_base}")
    assert "more than the 2.0% allowed; check the endpoint" in message
    status, n_lm, error = con.execute("SELECT status, n_lm_errors, error FROM eval_runs").fetchone()
    assert (status, n_lm, error) == ("failed", 1, message)
    assert con.execute("SELECT count(*) FROM predictions").fetchone()[0] == 10  # kept for diagnosis


def test_re_evaluating_an_unchanged_program_on_unchanged_data_makes_no_lm_call(fake_llm, con) -> None:
    items = examples(12)
    first = run(fake_llm, con, items)
    calls_before = fake_llm.calls
    second = run(fake_llm, con, items)
    assert fake_llm.calls == calls_before == 12
    assert second.calls == 0 and second.cache_hits == 12
    assert [o.rating for o in second.outputs] == [o.rating for o in first.outputs]
    assert second.metrics == first.metrics
    assert all(r["cached"] and r["calls"] == 0 for r in prediction_rows(con, second.run_id))


def test_parse_errors_are_cached_but_lm_errors_are_asked_again(fake_llm, con) -> None:
    items = examples(3)
    fake_llm.set_responder(
        lambda req: server_error() if "query 0" in str(req) else parse_error_answer("no_json")
    )
    run(fake_llm, con, items, lm_error_threshold=1.0)
    assert fake_llm.calls == 3 + 2
    fake_llm.clear()
    fake_llm.set_responder(valid_answer(4))
    again = run(fake_llm, con, items)
    assert fake_llm.calls == 1  # only the former lm_error example went back to the endpoint
    assert [o.status for o in again.outputs] == ["ok", "parse_error", "parse_error"]


def test_the_cache_is_keyed_by_endpoint_so_two_servers_with_one_model_name_do_not_share(con, tmp_path) -> None:
    items = examples(5)
    with FakeOpenAIServer(valid_answer(2)) as a, FakeOpenAIServer(valid_answer(5)) as b:
        on_a = run(a, con, items)
        on_b = run(b, con, items)
        assert a.calls == 5 and b.calls == 5
    assert {o.rating for o in on_a.outputs} == {2} and {o.rating for o in on_b.outputs} == {5}
    assert on_a.lm_identity != on_b.lm_identity


def test_a_changed_instruction_or_decoding_setting_misses_the_cache(fake_llm, con) -> None:
    items = examples(3)
    run(fake_llm, con, items)
    cfg = fake_lm_config(fake_llm)
    other = RelevanceJudge(scale=SCALE, instruction="Rate it.")
    evaluate_program(other, items, cfg, scale=SCALE, con=con, retry=FAST, progress=False)
    assert fake_llm.calls == 6
    run(fake_llm, con, items, cfg={"temperature": 0.7})
    assert fake_llm.calls == 9


def test_duplicate_content_is_judged_once_and_recorded_for_every_example(fake_llm, con) -> None:
    items = [JudgeExample(id=f"dup-{i}", query="same query", document="same doc", gold=3) for i in range(3)]
    result = run(fake_llm, con, items)
    assert fake_llm.calls == 1 and result.calls == 1
    assert [r["cached"] for r in prediction_rows(con, result.run_id)] == [False, True, True]


def test_no_more_requests_are_in_flight_than_the_concurrency_cap(fake_llm, con) -> None:
    fake_llm.latency = 0.05
    run(fake_llm, con, examples(24), concurrency=3)
    assert fake_llm.max_in_flight == 3


def test_a_spent_call_budget_stops_the_evaluation_instead_of_faking_lm_errors(fake_llm, con) -> None:
    cfg = fake_lm_config(fake_llm)
    lm = build_lm(cfg, budget=CallBudget(4))
    with pytest.raises(BudgetExhausted):
        evaluate_program(RelevanceJudge(), examples(10), cfg, scale=SCALE, con=con, lm=lm, concurrency=1, progress=False)
    assert fake_llm.calls == 4
    status, error = con.execute("SELECT status, error FROM eval_runs").fetchone()
    assert status == "failed" and error.startswith("BudgetExhausted")
    assert con.execute("SELECT count(*) FROM prediction_cache").fetchone()[0] == 4  # paid work kept


def test_examples_with_the_same_id_are_refused(fake_llm, con) -> None:
    items = [JudgeExample(id="same", query="a", document="b", gold=1)] * 2
    with pytest.raises(InputError, match="'same' appears twice"):
        run(fake_llm, con, items)
    assert fake_llm.calls == 0


def test_a_db_path_is_opened_and_closed_by_the_engine(fake_llm, db_path) -> None:
    cfg = fake_lm_config(fake_llm)
    result = evaluate_program(RelevanceJudge(), examples(2), cfg, scale=SCALE, db_path=db_path, progress=False)
    with duckdb.connect(str(db_path)) as check:
        assert check.execute("SELECT count(*) FROM predictions WHERE run_id = $r", {"r": result.run_id}).fetchone() == (2,)


def store_examples(con: duckdb.DuckDBPyConnection, week: str, split: str, n: int) -> None:
    """Annotations and their split rows, as ingest and split would leave them."""
    for i in range(n):
        key = f"key-{split}-{i}"
        con.execute(
            "INSERT INTO annotations (annotation_id, week, query, query_key, document, rating, content_hash,"
            " source_uri, source_row, ingest_run_id) VALUES ($id, $week, $q, $key, $doc, $rating, hash($id), 'test', $i, 'r')",
            {"id": f"{split}-{i}", "week": week, "q": f"{split} query {i}", "key": key, "doc": f"doc {i}", "rating": 1 + i % 5, "i": i},
        )
        con.execute("INSERT INTO splits (query_key, split, first_week) VALUES ($key, $split, $week)", {"key": key, "split": split, "week": week})


def test_the_prefect_task_loads_the_split_and_stores_its_run(fake_llm, con, db_path) -> None:
    from tasks.evaluate import evaluate_task

    store_examples(con, "2026-W47", "test", 4)
    store_examples(con, "2026-W47", "dev", 2)
    con.close()
    result = evaluate_task.fn(
        RelevanceJudge(), fake_lm_config(fake_llm), split="test", week="2026-W47", scale=SCALE, db_path=str(db_path), label="candidate"
    )
    assert result.n == 4 and result.split == "test" and result.label == "candidate"
    assert fake_llm.calls == 4
    with duckdb.connect(str(db_path)) as check:
        assert check.execute("SELECT split, week, status FROM eval_runs").fetchall() == [("test", "2026-W47", "completed")]


def test_the_cli_evaluates_a_saved_program_and_prints_one_json_object(fake_llm, con, db_path, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    import judgeflow.cli.evaluate  # noqa: F401 - registers the commands
    from judge.saving import save_program
    from judgeflow.cli import cli

    store_examples(con, "2026-W47", "dev", 3)
    con.close()
    path = save_program(RelevanceJudge(), tmp_path / "program.json")
    args = ["evaluate", "--program", str(path), "--split", "dev", "--week", "2026-W47", "--lm", "openai/fake-judge",
            "--api-base", fake_llm.api_base, "--db", str(db_path), "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert (payload["n"], payload["calls"], payload["n_lm_errors"]) == (3, 3, 0)
    assert payload["metrics"]["parse_rate"] == 1.0 and payload["lm"]["api_base"] == fake_llm.api_base
    again = json.loads(CliRunner().invoke(cli, args).output)
    assert (again["calls"], again["cache_hits"]) == (0, 3)
    assert "response_format" not in fake_llm.chat_requests[-1].json
    constrained = json.loads(CliRunner().invoke(cli, [*args, "--constrained-json"]).output)
    assert (constrained["calls"], constrained["cache_hits"]) == (3, 0)  # another LM identity, its own cache
    assert fake_llm.chat_requests[-1].json["response_format"]["type"] == "json_schema"


def test_the_cli_falls_back_to_the_baseline_without_a_champion_and_says_so(fake_llm, con, db_path) -> None:
    from click.testing import CliRunner

    import judgeflow.cli.evaluate  # noqa: F401 - registers the commands
    from judgeflow.cli import cli

    store_examples(con, "2026-W47", "test", 2)
    con.close()
    args = ["evaluate", "--week", "2026-W47", "--lm", "openai/fake-judge", "--api-base", fake_llm.api_base, "--db", str(db_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "baseline judge" in result.output and "nmse" in result.output


def test_the_cli_reports_an_lm_outage_in_one_line(fake_llm, con, db_path, tmp_path) -> None:
    from click.testing import CliRunner

    import judgeflow.cli.evaluate  # noqa: F401 - registers the commands
    from judgeflow.cli import cli

    store_examples(con, "2026-W47", "test", 2)
    con.close()
    fake_llm.set_responder(server_error())
    (tmp_path / "judgeflow.toml").write_text("[judgeflow.judge_lm]\nmax_retries = 0\n")  # the cwd of every test
    args = ["evaluate", "--week", "2026-W47", "--lm", "openai/fake-judge", "--api-base", fake_llm.api_base, "--db", str(db_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "2 of 2 examples (100.0%) failed at the LM endpoint" in result.output
    assert "Traceback" not in result.output
