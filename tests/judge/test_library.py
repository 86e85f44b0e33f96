"""The instruction library (catalogue, versions, greedy selection) and the disagreement report
that feeds it new rules.

Stays away from LMs: selection is driven by a scripted NMSE function, the report by
hand-built outputs. Library mode end to end is in tests/tasks/test_optimize.py.
"""

from __future__ import annotations

import json

import pytest

from judge.disagreements import build_report
from judge.library import (
    RULES_HEADER,
    Bullet,
    Catalogue,
    compose_instruction,
    default_catalogue_path,
    ensure_appends_only,
    greedy_select,
    load_catalogue,
    parse_catalogue,
)
from judge.scale import Scale
from judge.types import JudgeExample, JudgeOutput
from judgeflow.errors import InputError, JudgeflowError

BASE = "Rate relevance from 1 to 5.\nAnswer in JSON."


def rule(rule_id: str, text: str, version: int = 1) -> dict:
    return {"id": rule_id, "text": text, "provenance": "disagreements 2026-W45", "author": "ann",
            "date": "2026-11-09", "version": version}


def catalogue(*rules: dict) -> Catalogue:
    return parse_catalogue([json.dumps(r) for r in rules], "test")


def test_the_highest_version_of_a_rule_wins_and_the_catalogue_version_changes_with_it():
    one = catalogue(rule("recency", "Old pages rate lower."), rule("title", "Titles are not enough."))
    two = catalogue(rule("recency", "Old pages rate lower."), rule("title", "Titles are not enough."),
                    rule("recency", "Outdated pages rate at most 2.", version=2))
    assert [b.id for b in two.bullets] == ["recency", "title"]
    assert two.get("recency").text == "Outdated pages rate at most 2."
    assert two.versions() == {"recency": 2, "title": 1}
    assert one.version != two.version
    assert one.version == catalogue(rule("recency", "Old pages rate lower."), rule("title", "Titles are not enough.")).version


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        (json.dumps({"id": "x", "text": "t"}), "lacks provenance, author, date, version"),
        (json.dumps(rule("x", "t", version=0)), "positive integer"),
        (json.dumps(rule("x", "two\nlines")), "one line"),
    ],
)
def test_a_bad_catalogue_line_raises_an_input_error_naming_the_line(line, message):
    with pytest.raises(InputError, match=message):
        parse_catalogue([line], "lib.jsonl")


def test_the_same_rule_version_twice_is_refused():
    with pytest.raises(InputError, match="bump the version"):
        catalogue(rule("a", "x"), rule("a", "y"))


def test_a_missing_catalogue_file_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_catalogue(tmp_path / "nope.jsonl")


def test_the_shipped_catalogue_loads_when_present():
    if not default_catalogue_path().exists():
        pytest.skip("judge/library/instructions.jsonl is written by another change")
    shipped = load_catalogue()
    assert shipped.bullets and all(b.provenance and b.author for b in shipped.bullets)


def test_composing_keeps_the_base_instruction_verbatim_and_appends_rules_in_order():
    bullets = [Bullet("b", "Second rule.", "p", "a", "d"), Bullet("a", "First rule.", "p", "a", "d")]
    text = compose_instruction(BASE, bullets)
    assert text.startswith(BASE)
    assert text.endswith(f"{RULES_HEADER}\n- Second rule.\n- First rule.")
    assert compose_instruction(BASE, []) == BASE
    ensure_appends_only(BASE, text)


def test_library_mode_cannot_rewrite_the_base_instruction():
    with pytest.raises(JudgeflowError, match="only append"):
        ensure_appends_only(BASE, "Rate relevance from 1 to 5.\nAnswer in YAML.")
    with pytest.raises(JudgeflowError, match="only append"):
        ensure_appends_only(BASE, f"{BASE}\n\n{RULES_HEADER}\n- ok\nsneaky free text")


def scripted_nmse(gains: dict[str, float], base: float = 40.0):
    """NMSE = base minus the gain of every rule text present; records each instruction scored."""
    seen: list[str] = []

    def nmse_of(instruction: str) -> float:
        seen.append(instruction)
        return base - sum(g for text, g in gains.items() if f"- {text}" in instruction)

    return nmse_of, seen


def test_greedy_selection_adds_the_most_helpful_rule_first_and_stops_when_nothing_helps():
    lib = catalogue(rule("noise", "Noise."), rule("recency", "Recency."), rule("format", "Format."))
    nmse_of, seen = scripted_nmse({"Recency.": 12.0, "Format.": 5.0, "Noise.": 0.0})
    result = greedy_select(BASE, lib, nmse_of)
    assert result.chosen == ["recency", "format"]
    assert result.base_nmse == 40.0 and result.nmse == 23.0
    assert result.stopped == "no_gain"
    assert result.instruction == compose_instruction(BASE, [lib.get("recency"), lib.get("format")])
    assert len(seen) == 1 + 3 + 2 + 1  # base, round 1, round 2, round 3 (only noise left)
    assert [s.chosen for s in result.steps] == ["recency", "format", None]


def test_greedy_selection_chooses_nothing_when_no_rule_helps():
    lib = catalogue(rule("a", "A."), rule("b", "B."))
    result = greedy_select(BASE, lib, scripted_nmse({"A.": -1.0, "B.": 0.0})[0])
    assert result.chosen == [] and result.instruction == BASE and result.nmse == 40.0


def test_greedy_selection_respects_max_rules_and_min_gain():
    lib = catalogue(rule("a", "A."), rule("b", "B."), rule("c", "C."))
    gains = {"A.": 9.0, "B.": 6.0, "C.": 0.5}
    assert greedy_select(BASE, lib, scripted_nmse(gains)[0], max_rules=1).chosen == ["a"]
    assert greedy_select(BASE, lib, scripted_nmse(gains)[0], min_gain=1.0).chosen == ["a", "b"]


def test_a_rule_failing_the_guardrails_is_rejected_and_never_scored():
    lib = catalogue(rule("bad", "Rate out of 10."), rule("good", "Good."))
    nmse_of, seen = scripted_nmse({"Rate out of 10.": 30.0, "Good.": 2.0})
    result = greedy_select(BASE, lib, nmse_of, check=lambda text: [{"rule": "other_scale"}] if "out of 10" in text else [])
    assert result.chosen == ["good"]
    assert "bad" in result.rejected
    assert not any("out of 10" in s for s in seen)


def test_a_spent_budget_ends_selection_with_the_best_rules_so_far():
    class SpentError(Exception):
        pass

    lib = catalogue(rule("a", "A."), rule("b", "B."))
    calls = {"n": 0}

    def nmse_of(instruction: str) -> float:
        calls["n"] += 1
        if calls["n"] > 3:
            raise SpentError
        return 40.0 - (10.0 if "- A." in instruction else 0.0)

    result = greedy_select(BASE, lib, nmse_of, stop_on=(SpentError,))
    assert result.stopped == "budget"
    assert result.chosen == ["a"] and result.nmse == 30.0


# ---- the disagreement report ----------------------------------------------------------------

S15 = Scale.parse("1-5")


def ex(i: int, gold: int, rationale: str | None = None, **kw) -> JudgeExample:
    return JudgeExample(id=f"e{i}", query=f"query {i}", document="doc", gold=gold, explanation=rationale, **kw)


def test_the_report_lists_the_largest_disagreements_first_with_rationale_and_reasoning():
    examples = [ex(1, 2, "This page is outdated: the 2019 policy was replaced."), ex(2, 4), ex(3, 3, "Only part of it.")]
    outputs = [JudgeOutput("ok", 5, "Describes the policy."), JudgeOutput("ok", 4, "ok"), JudgeOutput("ok", 5, "Full answer.")]
    report = build_report(examples, outputs, S15)
    assert [(d.example_id, d.gap) for d in report.items] == [("e1", 3), ("e3", 2)]
    assert report.items[0].theme == "recency"
    assert report.items[1].theme == "partial_answer"
    md = report.to_markdown()
    assert "### recency (1)" in md
    assert "human: This page is outdated" in md and "model: Describes the policy." in md
    assert "Suggested rule" in md


def test_unparseable_answers_form_the_format_failure_theme_and_lm_errors_are_left_out():
    examples = [ex(1, 4), ex(2, 4), ex(3, 1)]
    outputs = [
        JudgeOutput("parse_error", error_kind="no_json", raw="Rating: 4"),
        JudgeOutput("lm_error", error_kind="Timeout"),
        JudgeOutput("ok", 1, "Matches."),
    ]
    report = build_report(examples, outputs, S15)
    assert [(d.example_id, d.theme, d.gap, d.pred) for d in report.items] == [("e1", "format_failure", 4, None)]
    assert "raw output: 'Rating: 4'" in report.to_markdown()


def test_a_title_only_match_that_was_over_rated_is_grouped_as_title_match():
    example = JudgeExample(id="t", query="reset vpn password", document="x", gold=1, title="VPN password reset")
    report = build_report([example], [JudgeOutput("ok", 4, "Looks on topic.")], S15)
    assert report.items[0].theme == "title_match"


def test_a_perfect_judge_gets_an_empty_report_that_says_so():
    report = build_report([ex(1, 3)], [JudgeOutput("ok", 3, "x")], S15)
    assert report.items == [] and "No disagreements" in report.to_markdown()


def test_misaligned_examples_and_outputs_are_refused():
    with pytest.raises(ValueError, match="must align"):
        build_report([ex(1, 3)], [], S15)
