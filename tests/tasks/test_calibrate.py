"""Calibration as a candidate: fitted on train only, measured on dev, applied to champion outputs.

Stays away from the isotonic fit's own arithmetic (tests/judge/test_calibration.py) and from
any LM: the judge here is a fake that records the examples it was sent and answers from gold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.calibration import fit_calibrator
from judge.scale import Scale
from judge.types import JudgeExample, JudgeOutput
from judgeflow.errors import InputError
from tasks.calibrate import (
    calibrate,
    calibrated_outputs,
    ensure_train_only,
    fit_on_train,
    load_calibrator,
    save_calibrator,
)

WEEK = "2026-W47"
TREC = Scale(lo=0, hi=3)


def _examples(split: str, n: int) -> list[JudgeExample]:
    return [JudgeExample(id=f"{split}-{i}", query=f"{split} q{i}", document="d", gold=i % 4) for i in range(n)]


class RecordingLoader:
    """Serves fixed examples per split and records every (split, week) it was asked for."""

    def __init__(self) -> None:
        self.by_split = {"train": _examples("train", 12), "dev": _examples("dev", 8), "test": _examples("test", 8)}
        self.asked: list[tuple[str, str]] = []

    def __call__(self, con, split: str, week: str) -> list[JudgeExample]:
        self.asked.append((split, week))
        return self.by_split[split]


class BiasedJudge:
    """Rates one point above gold (capped), so a calibrator can learn to subtract it."""

    def __init__(self, scale: Scale = TREC, broken_ids: tuple[str, ...] = ()) -> None:
        self.scale, self.broken_ids = scale, broken_ids
        self.sent: list[str] = []

    def __call__(self, examples: list[JudgeExample]) -> list[JudgeOutput]:
        self.sent.extend(e.id for e in examples)
        outputs = []
        for e in examples:
            if e.id in self.broken_ids:
                outputs.append(JudgeOutput(status="lm_error", error_kind="Timeout"))
            else:
                outputs.append(JudgeOutput(status="ok", rating=min(e.gold + 1, self.scale.hi), raw="{}"))
        return outputs


def test_fit_loads_the_train_split_itself_and_sends_only_train_rows_to_the_judge():
    loader, judge = RecordingLoader(), BiasedJudge()
    calibrator = fit_on_train(None, WEEK, judge, TREC, load=loader)
    assert loader.asked == [("train", WEEK)]
    assert judge.sent == [e.id for e in loader.by_split["train"]]
    assert calibrator.n_fit == 12 and "train split of 2026-W47" in calibrator.fitted_on


def test_calibrate_asks_the_store_for_train_and_dev_and_never_for_test():
    loader, judge = RecordingLoader(), BiasedJudge()
    calibrate(None, WEEK, judge, TREC, load=loader)
    assert {split for split, _ in loader.asked} == {"train", "dev"}
    assert not any(i.startswith("test-") for i in judge.sent)


def test_an_examples_list_with_a_test_row_raises_before_the_judge_sees_anything():
    loader, judge = RecordingLoader(), BiasedJudge()
    mixed = [*loader.by_split["train"][:3], loader.by_split["test"][0]]
    with pytest.raises(InputError, match=r"train split only.*'test-0'"):
        fit_on_train(None, WEEK, judge, TREC, examples=mixed, load=loader)
    assert judge.sent == []


def test_train_examples_handed_in_explicitly_are_accepted():
    loader, judge = RecordingLoader(), BiasedJudge()
    calibrator = fit_on_train(None, WEEK, judge, TREC, examples=loader.by_split["train"][:6], load=loader)
    assert calibrator.n_fit == 6 and len(judge.sent) == 6


def test_calibration_removes_most_of_a_constant_bias_on_dev():
    result = calibrate(None, WEEK, BiasedJudge(), TREC, load=RecordingLoader())
    # dev golds 0,1,2,3 (twice) are rated 1,2,3,3: squared errors 1,1,1,0 -> NMSE 100*0.75/9.
    # Train maps raw 1->0, 2->1 and 3->mean(2, 3)=2.5, rounded to 3: errors 0,0,1,0 -> 100*0.25/9.
    assert result.before["nmse"] == pytest.approx(100 * 0.75 / 9)
    assert result.after["nmse"] == pytest.approx(100 * 0.25 / 9)
    assert result.n_dev == 8 and result.to_dict()["dev_after"]["nmse"] == pytest.approx(100 * 0.25 / 9)


def test_lm_errors_on_train_stay_out_of_the_fit():
    judge = BiasedJudge(broken_ids=("train-0", "train-1"))
    calibrator = fit_on_train(None, WEEK, judge, TREC, load=RecordingLoader())
    assert calibrator.n_fit == 10


def test_the_candidate_keeps_parse_errors_unparsed_and_maps_ok_ratings():
    calibrator = fit_calibrator([1, 2, 3, 3], [0, 1, 2, 3], TREC)
    champion = [
        JudgeOutput(status="ok", rating=1, raw="a"),
        JudgeOutput(status="parse_error", error_kind="no_json", raw="b"),
        JudgeOutput(status="lm_error", error_kind="Timeout"),
    ]
    candidate = calibrated_outputs(champion, calibrator)
    assert candidate[0].rating == 0 and candidate[0].raw == "a"
    assert candidate[1:] == champion[1:]


def test_a_saved_calibrator_round_trips_and_is_refused_on_another_scale(tmp_path: Path):
    calibrator = fit_calibrator([1, 2, 3, 3], [0, 1, 2, 3], TREC)
    path = save_calibrator(calibrator, tmp_path / "cal" / "c.json")
    assert json.loads(path.read_text())["scale"] == "0-3"
    assert load_calibrator(path, TREC) == calibrator
    with pytest.raises(InputError, match="fitted for scale 0-3 but the project scale is 1-5"):
        load_calibrator(path, Scale())


def test_ensure_train_only_against_a_real_store_refuses_a_test_row(db_path, tmp_path):
    from judgeflow.config import load_settings
    from judgeflow.store import open_store
    from tasks.ingest import ingest_week
    from tasks.split import assign_splits, load_examples

    rows = [
        {"query": f"query number {q}", "document": f"doc {q}-{d}", "doc_id": f"{q}-{d}", "rating": d % 4}
        for q in range(30)
        for d in range(2)
    ]
    source = tmp_path / "ann.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ingest_week(db_path, WEEK, annotations=source, settings=load_settings(scale="0-3"))
    with open_store(db_path) as store:
        assign_splits(store, WEEK, (0.5, 0.25, 0.25))
        train, test = load_examples(store, "train", WEEK), load_examples(store, "test", WEEK)
        assert train and test
        ensure_train_only(store, WEEK, train)
        with pytest.raises(InputError, match="not train examples"):
            ensure_train_only(store, WEEK, [*train, test[0]])


def test_calibrate_command_end_to_end_never_sends_a_test_document_to_the_lm(tmp_path, monkeypatch):
    import re

    from click.testing import CliRunner

    from judgeflow.cli import _register, cli
    from judgeflow.config import load_settings
    from judgeflow.store import open_store
    from tasks.ingest import ingest_week
    from tasks.split import assign_splits, load_examples
    from tests.fakes.openai_server import FakeOpenAIServer, per_prompt, valid_answer

    rows = [
        {"query": f"topic {q} question", "document": f"level {(q + d) % 4} passage about topic {q} doc {d}",
         "doc_id": f"{q}-{d}", "rating": (q + d) % 4}
        for q in range(30)
        for d in range(3)
    ]
    source = tmp_path / "ann.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    db = tmp_path / "cal.duckdb"
    ingest_week(db, WEEK, annotations=source, settings=load_settings(scale="0-3"))
    with open_store(db) as store:
        assign_splits(store, WEEK, (0.5, 0.25, 0.25))
        test_docs = {e.document for e in load_examples(store, "test", WEEK)}
    assert test_docs

    def one_point_high(text: str, _seen: int):
        level = int(re.search(r"level (\d) passage", text).group(1))
        return valid_answer(min(level + 1, 3))

    with FakeOpenAIServer(per_prompt(one_point_high)) as server:
        (tmp_path / "judgeflow.toml").write_text(
            f'scale = "0-3"\n[judge_lm]\nmodel = "openai/fake-judge"\napi_base = "{server.api_base}"\n'
            "local = false\nconcurrency = 2\n",
            encoding="utf-8",
        )
        _register()
        out = tmp_path / "calibrator.json"
        result = CliRunner().invoke(cli, ["calibrate", "--week", WEEK, "--db", str(db), "--out", str(out), "--json"])
        sent = [r.text for r in server.chat_requests]
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dev_after"]["nmse"] < data["dev_before"]["nmse"]
    assert data["calibrator"]["scale"] == "0-3" and out.exists()
    assert sent and not any(doc in text for text in sent for doc in test_docs)
