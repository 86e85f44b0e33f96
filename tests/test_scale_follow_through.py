"""The rating scale follows through: a 0-3 project says 0-3 everywhere and refuses 1-5 artifacts.

Covers the prompt (signature description, instruction, the text DummyLM receives), the strict
contract, metrics normalisation, guardrails, the disagreement report, the calibrator and the
saved-program refusal. Stays away from each piece's own detailed behaviour (their own test
files) and from any real LM or network.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

import dspy
import pytest
from dspy.utils import DummyLM

from judge.calibration import fit_calibrator
from judge.contract import parse_output
from judge.disagreements import build_report
from judge.guardrails import Guardrails
from judge.program import (
    RelevanceJudge,
    baseline_instruction,
    judge_one,
    make_signature,
)
from judge.saving import load_program, save_program
from judge.scale import Scale
from judge.types import JudgeExample, JudgeOutput
from judgeflow.config import load_settings
from judgeflow.errors import InputError
from tasks.calibrate import load_calibrator, save_calibrator, score_outputs

TREC = Scale.parse("0-3")
FIVE = Scale.parse("1-5")
ONE_TO_FIVE = re.compile(r"\b1\s*(?:-|–|to)\s*5\b|\bout of 5\b|\b5-point\b", re.IGNORECASE)
EXAMPLE = JudgeExample(id="e1", query="dog age by teeth", document="Dogs have 42 adult teeth.", gold=3)


def _answer(rating: int) -> dict[str, str]:
    return {"rating": str(rating), "explanation": "It answers the query."}


class RecordingLM(DummyLM):
    """DummyLM that records the messages it was sent, also through the copies judge_one makes."""

    sent: ClassVar[list[list[dict]]] = []

    def forward(self, prompt=None, messages=None, **kwargs):
        RecordingLM.sent.append(messages or [])
        return super().forward(prompt=prompt, messages=messages, **kwargs)


def _prompt_text() -> str:
    return "\n".join(str(m.get("content", "")) for messages in RecordingLM.sent for m in messages)


def test_settings_take_the_scale_from_the_environment(monkeypatch):
    monkeypatch.setenv("JUDGEFLOW_SCALE", "0-3")
    assert load_settings().scale == TREC
    assert load_settings(scale="1-5").scale == FIVE  # a flag beats the environment


def test_the_signature_and_baseline_instruction_describe_0_to_3_only():
    signature = make_signature(TREC)
    assert "0-3" in signature.output_fields["rating"].json_schema_extra["desc"]
    instruction = baseline_instruction(TREC)
    assert signature.instructions == instruction
    assert "from 0 to 3" in instruction and "3 = perfectly relevant" in instruction
    assert not ONE_TO_FIVE.search(instruction) and "4 =" not in instruction and "5 =" not in instruction


def test_the_prompt_the_lm_receives_says_0_to_3_and_a_rating_of_3_is_ok():
    RecordingLM.sent.clear()
    with dspy.context(lm=RecordingLM([_answer(3)], adapter=dspy.JSONAdapter())):
        output = judge_one(RelevanceJudge(scale=TREC), EXAMPLE)
    assert output.status == "ok" and output.rating == 3
    text = _prompt_text()
    assert "dog age by teeth" in text
    assert "integer 0-3" in text and "from 0 to 3" in text
    assert not ONE_TO_FIVE.search(text)


def test_a_rating_of_4_is_out_of_range_on_a_0_to_3_project_through_the_judge_and_the_contract():
    lm = DummyLM([_answer(4)], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm):
        output = judge_one(RelevanceJudge(scale=TREC), EXAMPLE)
    assert output.status == "parse_error" and output.error_kind == "out_of_range"
    assert parse_output('{"rating": 3, "explanation": "x"}', TREC).rating == 3
    assert parse_output('{"rating": 0, "explanation": "x"}', TREC).status == "ok"
    assert parse_output('{"rating": 4, "explanation": "x"}', TREC).error_kind == "out_of_range"
    assert parse_output('{"rating": 0, "explanation": "x"}', FIVE).error_kind == "out_of_range"


def test_metrics_normalise_by_the_0_to_3_span_squared():
    golds = [0, 0, 3, 2]
    examples = [JudgeExample(id=f"e{i}", query="q", document="d", gold=g) for i, g in enumerate(golds)]
    outputs = [
        JudgeOutput(status="ok", rating=1),  # error 1
        JudgeOutput(status="ok", rating=3),  # error 3 -> 9
        JudgeOutput(status="ok", rating=3),  # error 0
        JudgeOutput(status="parse_error", error_kind="no_json"),  # unparseable: maximal, 9
    ]
    metrics = score_outputs(outputs, examples, TREC)
    # NMSE = 100 * mean(1, 9, 0, 9) / (3 - 0)^2 = 100 * 4.75 / 9
    assert metrics["nmse"] == pytest.approx(100 * 4.75 / 9)
    assert metrics["parse_rate"] == pytest.approx(0.75)
    assert metrics["scale"] == "0-3"


def test_guardrails_on_a_0_to_3_project_forbid_1_to_5_wording_and_accept_the_baseline():
    guard = Guardrails.for_data([EXAMPLE], TREC)
    assert guard.check_instruction(baseline_instruction(TREC)) == []
    for text in ("Rate the document from 1 to 5.", "Give a rating out of 5.", "Use a 5-point scale."):
        violations = guard.check_instruction(text)
        assert violations and all(v.rule == "other_scale" for v in violations), text
    assert guard.check_instruction(baseline_instruction(FIVE)) != []


def test_the_disagreement_report_names_the_0_to_3_scale_and_counts_unparsed_as_the_full_span():
    report = build_report([EXAMPLE], [JudgeOutput(status="parse_error", error_kind="no_json", raw="?")], TREC)
    assert report.items[0].gap == 3
    assert "scale 0-3" in report.to_markdown()
    assert report.to_dict()["scale"] == "0-3"


def test_a_program_saved_on_1_to_5_is_refused_on_a_0_to_3_project(tmp_path):
    path = save_program(RelevanceJudge(scale=FIVE), tmp_path / "program.json")
    with pytest.raises(InputError, match="built for scale 1-5 but the project scale is 0-3"):
        load_program(path, TREC)
    assert json.loads(path.read_text())["judgeflow"]["scale"] == "1-5"
    assert load_program(save_program(RelevanceJudge(scale=TREC), tmp_path / "t.json"), TREC).scale == TREC


def test_a_calibrator_fitted_on_1_to_5_is_refused_on_a_0_to_3_project(tmp_path):
    path = save_calibrator(fit_calibrator([1, 3, 5], [1, 3, 5], FIVE), tmp_path / "cal.json")
    with pytest.raises(InputError, match="fitted for scale 1-5 but the project scale is 0-3"):
        load_calibrator(path, TREC)
