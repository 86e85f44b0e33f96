"""Optimizers end to end against a loopback fake LM whose answers depend on the prompt.

The fake (tests/fakes/instruction_lm.py) over-rates outdated documents unless the instruction
carries the recency rule, and answers some examples in prose unless the prompt has demos, so
each optimizer has something real to earn. Sets are tiny and budgets small to keep each test
to seconds. Stays away from the real local model, Prefect and the weekly flow.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from judge.program import RelevanceJudge
from judge.types import JudgeExample
from judgeflow.config import LMConfig
from judgeflow.errors import InputError
from tasks.optimize import optimize_program
from tasks.optimizers.context import OptimizeSettings
from tasks.optimizers.data import SplitLeakError, SplitSet
from tasks.split import query_key
from tests.fakes.instruction_lm import RECENCY_RULE, FakeCase, InstructionSensitiveLM
from tests.fakes.openai_server import FakeOpenAIServer

WEEK = "2026-W47"
OUTDATED = "Archived 2009 edition of the travel policy handbook for contractors."
OUTDATED_WHY = "The page is outdated and the person asks about the policy in force now."


def make(split: str, i: int, *, outdated: bool, fragile: bool) -> tuple[JudgeExample, FakeCase]:
    key = f"{split}-doc-{i:02d}"
    body = OUTDATED if outdated else f"Guide {i} walks through the expense claim process step by step."
    gold = 2 if outdated else 4
    example = JudgeExample(
        id=key, query=f"how do I file expenses ({split} {i})", document=f"{key}: {body}", gold=gold,
        explanation=OUTDATED_WHY if outdated else "Covers what was asked.", doc_id=key, annotator="rater_ann",
    )
    return example, FakeCase(key, gold, outdated=outdated, fragile=fragile)


TRAIN = [make("train", i, outdated=i % 3 == 0, fragile=i % 4 == 1) for i in range(8)]
DEV = [make("dev", i, outdated=i % 2 == 0, fragile=i % 3 == 1) for i in range(6)]
TEST = [make("test", i, outdated=False, fragile=False) for i in range(3)]
TRAINSET = SplitSet("train", WEEK, tuple(e for e, _ in TRAIN))
DEVSET = SplitSet("dev", WEEK, tuple(e for e, _ in DEV))
TEST_KEYS = frozenset(query_key(e.query) for e, _ in TEST)
CASES = [c for _, c in TRAIN + DEV + TEST]


@pytest.fixture
def fake():
    return InstructionSensitiveLM(CASES)


@pytest.fixture
def server(fake):
    with FakeOpenAIServer(fake) as running:
        yield running


def lm_cfgs(server: FakeOpenAIServer) -> tuple[LMConfig, LMConfig]:
    judge = LMConfig(model="openai/fake-judge", api_base=server.api_base, local=False, concurrency=2, max_retries=0)
    reflection = LMConfig(model="openai/fake-reflect", api_base=server.api_base, local=False, max_retries=0)
    return judge, reflection


def run(server, con, tmp_path, optimizer: str, budget: int, **settings):
    judge_cfg, reflection_cfg = lm_cfgs(server)
    return optimize_program(
        RelevanceJudge(scale="1-5"),
        trainset=settings.pop("trainset", TRAINSET),
        valset=settings.pop("valset", DEVSET),
        test_keys=TEST_KEYS,
        settings=OptimizeSettings(optimizer=optimizer, budget_calls=budget, num_threads=2, **settings),
        judge_cfg=judge_cfg,
        reflection_cfg=reflection_cfg,
        con=con,
        home=tmp_path / "home",
    )


def test_the_champion_baseline_lacks_the_rules_the_fake_rewards():
    instruction = RelevanceJudge(scale="1-5").instruction.casefold()
    assert "outdated documents" not in instruction
    assert "one json object and nothing else" not in instruction


def test_gepa_lowers_dev_nmse_using_the_feedback_with_calls_under_budget(server, fake, con, tmp_path):
    result = run(server, con, tmp_path, "gepa", 60)
    assert result.dev_after["nmse"] < result.dev_before["nmse"]
    assert RECENCY_RULE in result.candidate.instruction
    assert result.calls["used"] <= 60
    assert set(result.calls["by_role"]) == {"judge", "reflection"}
    assert result.calls["by_role"]["judge"]["calls"] + result.calls["by_role"]["reflection"]["calls"] == result.calls["used"]
    assert fake.count("reflect", feedback=True) >= 1  # the reflection LM saw the Dash feedback
    reflections = [r.text for r in server.chat_requests if "new_instruction" in r.text]
    assert any("too high" in text and OUTDATED_WHY in text for text in reflections)
    assert not any("test-doc" in r.text for r in server.chat_requests)


def test_gepa_reflection_gets_format_failure_feedback_for_unparseable_answers(con, tmp_path):
    fragile = [FakeCase(c.document_key, c.gold, outdated=c.outdated, fragile=True) for c in CASES]
    with FakeOpenAIServer(InstructionSensitiveLM(fragile)) as server:
        run(server, con, tmp_path, "gepa", 30)
        reflections = [r.text for r in server.chat_requests if "new_instruction" in r.text]
    assert reflections
    assert any("could not be parsed (no_json)" in text for text in reflections)
    assert any("Raw output: 'Rating:" in text for text in reflections)


def test_a_gepa_candidate_is_saved_with_a_manifest_and_never_promoted(server, con, tmp_path):
    result = run(server, con, tmp_path, "gepa", 60, seed=7)
    folder = result.path
    assert folder.parent == tmp_path / "home" / "candidates"
    assert folder.name == f"{WEEK}-gepa-{result.candidate_hash[:8]}"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["promoted"] is False
    assert manifest["seed"] == 7 and manifest["settings"]["budget_calls"] == 60
    assert manifest["lms"]["judge"]["model"] == "openai/fake-judge"
    assert manifest["data"]["train_rows"] == 8 and manifest["data"]["dev_rows"] == 6
    train_ids = "\n".join(sorted(e.id for e in TRAINSET.examples)).encode()
    assert manifest["data"]["train_ids_sha256"] == hashlib.sha256(train_ids).hexdigest()
    assert manifest["dev_before"]["nmse"] > manifest["dev_after"]["nmse"]
    assert f"+{RECENCY_RULE}" in manifest["instruction_diff"]
    assert "guardrail_rejections" in manifest
    program = json.loads((folder / "program.json").read_text())
    assert program["judge"]["lm"] is None
    assert "## Dev disagreements" in (folder / "disagreements.md").read_text()


def test_gepa_rejects_a_proposal_that_copies_training_text_and_keeps_searching(server, fake, con, tmp_path):
    leaky = f"{OUTDATED} Such outdated documents are rated low."
    fake.proposals = [leaky, RECENCY_RULE]
    result = run(server, con, tmp_path, "gepa", 60)
    assert result.rejections, "the leaking proposal was not rejected"
    first = result.rejections[0]
    assert first["source"] == "gepa" and leaky in first["instruction"]
    assert first["violations"][0]["rule"] == "verbatim_copy"
    assert "archived 2009 edition of the travel policy handbook" in first["violations"][0]["text"]
    assert "Archived 2009" not in result.candidate.instruction
    assert RECENCY_RULE in result.candidate.instruction
    assert result.dev_after["nmse"] < result.dev_before["nmse"]


def test_gepa_rejects_a_proposal_that_changes_the_rating_scale(server, fake, con, tmp_path):
    fake.proposals = ["Use a 0-10 scale and rate outdated documents 0.", RECENCY_RULE]
    result = run(server, con, tmp_path, "gepa", 60)
    assert any(v["rule"] == "other_scale" for r in result.rejections for v in r["violations"])
    assert "0-10" not in result.candidate.instruction


def test_a_spent_call_budget_stops_gepa_cleanly_with_the_best_so_far(server, con, tmp_path):
    result = run(server, con, tmp_path, "gepa", 12)
    assert result.calls["used"] <= 12
    assert result.stopped == "budget"
    assert result.path is not None and (result.path / "program.json").exists()
    assert result.dev_after["nmse"] <= result.dev_before["nmse"]


def test_bootstrap_raises_parse_rate_with_demos_only_from_exact_ratings(server, con, tmp_path):
    result = run(server, con, tmp_path, "bootstrap", 40)
    assert result.dev_after["parse_rate"] > result.dev_before["parse_rate"]
    assert result.calls["used"] <= 40
    demos = result.candidate.predictor.demos
    assert demos
    golds = {case.document_key: case.gold for case in CASES}
    for demo in demos:
        key = next(k for k in golds if k in demo["document"])
        assert demo["rating"] == golds[key]
    assert result.candidate.instruction == RelevanceJudge(scale="1-5").instruction


def test_mipro_lowers_dev_nmse_with_calls_under_budget(server, con, tmp_path):
    result = run(server, con, tmp_path, "mipro", 300)
    assert result.dev_after["nmse"] < result.dev_before["nmse"]
    assert result.calls["used"] <= 300
    assert "reflection" in result.calls["by_role"]


def test_mipro_drops_proposals_that_change_the_scale_and_still_earns_parse_rate_with_demos(server, fake, con, tmp_path):
    fake.mipro_addition = "Use a 0-10 scale for ratings."
    result = run(server, con, tmp_path, "mipro", 300)
    assert result.rejections and {r["source"] for r in result.rejections} == {"mipro"}
    assert all(v["rule"] == "other_scale" for r in result.rejections for v in r["violations"])
    assert "0-10" not in result.candidate.instruction
    assert result.dev_after["parse_rate"] > result.dev_before["parse_rate"]


def test_library_mode_appends_the_helpful_rule_and_records_its_id(server, con, tmp_path):
    library = tmp_path / "lib.jsonl"
    rules = [
        {"id": "title", "text": "A title match alone is not relevance."},
        {"id": "recency", "text": RECENCY_RULE},
        {"id": "scale", "text": "Rate out of 10 when unsure."},
    ]
    library.write_text("\n".join(
        json.dumps({**r, "provenance": "test", "author": "ann", "date": "2026-11-16", "version": 1}) for r in rules
    ))
    champion_instruction = RelevanceJudge(scale="1-5").instruction
    result = run(server, con, tmp_path, "library", 60, library_path=str(library))
    assert result.chosen_bullets == ["recency"]
    assert result.candidate.instruction.startswith(champion_instruction)
    assert result.dev_after["nmse"] < result.dev_before["nmse"]
    assert [r["source"] for r in result.rejections] == ["library"]  # the off-scale rule
    assert result.manifest["library"]["rule_versions"] == {"title": 1, "recency": 1, "scale": 1}
    assert result.calls["used"] <= 60


@pytest.mark.parametrize("optimizer", ["gepa", "mipro", "bootstrap", "library"])
def test_a_test_split_example_reaching_any_optimizer_raises_before_any_lm_call(server, con, tmp_path, optimizer):
    test_set = SplitSet("test", WEEK, tuple(e for e, _ in TEST))
    with pytest.raises(SplitLeakError, match="test split"):
        run(server, con, tmp_path, optimizer, 10, trainset=test_set)
    with pytest.raises(SplitLeakError, match="test split"):
        run(server, con, tmp_path, optimizer, 10, valset=SplitSet("test", WEEK, DEVSET.examples))
    relabelled = SplitSet("train", WEEK, (*TRAINSET.examples, TEST[0][0]))
    with pytest.raises(SplitLeakError, match="query from the test split"):
        run(server, con, tmp_path, optimizer, 10, trainset=relabelled)
    with pytest.raises(InputError, match="SplitSet"):
        run(server, con, tmp_path, optimizer, 10, trainset=list(TRAINSET.examples))
    assert server.calls == 0


def test_dev_must_not_be_used_to_learn_from():
    with pytest.raises(InputError, match="must be the train split"):
        from tasks.optimizers.data import check_split_sets

        check_split_sets(SplitSet("dev", WEEK, DEVSET.examples), DEVSET, TEST_KEYS)


def test_an_unknown_optimizer_or_bad_budget_is_refused():
    with pytest.raises(InputError, match="optimizer must be one of"):
        OptimizeSettings(optimizer="simba")
    with pytest.raises(InputError, match="budget-calls"):
        OptimizeSettings(optimizer="gepa", budget_calls=0)


def store_week(con) -> None:
    """Annotations and sticky splits for TRAIN, DEV and TEST, as ingest and split would leave them."""
    for split, pairs in (("train", TRAIN), ("dev", DEV), ("test", TEST)):
        for example, _ in pairs:
            key = query_key(example.query)
            con.execute(
                "INSERT INTO annotations (annotation_id, week, query, query_key, document, doc_id, rating, "
                "explanation, annotator, content_hash, source_uri, source_row, ingest_run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, hash(?), 'test', 0, 'run')",
                [example.id, WEEK, example.query, key, example.document, example.doc_id, example.gold,
                 example.explanation, example.annotator, example.id],
            )
            con.execute("INSERT INTO splits (query_key, split, first_week) VALUES (?, ?, ?)", [key, split, WEEK])


def test_the_optimize_command_runs_library_mode_from_the_store_without_touching_test(server, db_path, tmp_path):
    from click.testing import CliRunner

    from judgeflow.cli import _register, cli
    from judgeflow.store import connect

    con = connect(db_path)
    store_week(con)
    con.close()
    library = tmp_path / "lib.jsonl"
    library.write_text(json.dumps({"id": "recency", "text": RECENCY_RULE, "provenance": "test", "author": "ann",
                                   "date": "2026-11-16", "version": 1}))
    _register()
    args = [
        "optimize", "--week", WEEK, "--optimizer", "library", "--budget-calls", "40", "--library", str(library),
        "--db", str(db_path), "--lm", "openai/fake-judge", "--api-base", server.api_base,
        "--reflection-lm", "openai/fake-reflect", "--reflection-api-base", server.api_base, "--json",
    ]
    outcome = CliRunner().invoke(cli, args)
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.output.strip().splitlines()[-1])
    assert payload["chosen_bullets"] == ["recency"]
    assert payload["dev_after"]["nmse"] < payload["dev_before"]["nmse"]
    assert payload["calls"]["used"] <= 40
    manifest = json.loads((tmp_path / "jf-home" / "candidates" / payload["path"].split("/")[-1] / "manifest.json").read_text())
    assert manifest["data"]["snapshot"]["splits"]["test"]["rows"] == 3
    assert server.calls > 0
    assert not any("test-doc" in r.text for r in server.chat_requests)


def test_the_optimize_command_turns_a_bad_week_into_one_line(db_path):
    from click.testing import CliRunner

    from judgeflow.cli import _register, cli

    _register()
    outcome = CliRunner().invoke(cli, ["optimize", "--week", "2026-47", "--db", str(db_path)])
    assert outcome.exit_code != 0
    assert "ISO week like 2026-W47" in outcome.output
