"""Guardrails on candidate instructions: leaked data, other rating scales, changed fields.

Pure functions over strings and signatures: no LM, no store, no optimizer (the optimizers'
use of these checks is tested in tests/tasks/test_optimize.py).
"""

from __future__ import annotations

import pytest

from judge.guardrails import (
    Guardrails,
    LeakIndex,
    RejectionLog,
    find_field_changes,
    find_leaks,
    find_other_scales,
)
from judge.program import baseline_instruction, make_signature
from judge.scale import Scale
from judge.types import JudgeExample

DOC = (
    "The quarterly travel reimbursement form must be submitted through the finance portal "
    "before the fifth working day of the following month, with receipts attached."
)
EXAMPLES = [
    JudgeExample(
        id="a1", query="how to claim travel costs", document=DOC, gold=4,
        explanation="Explains the portal deadline for claims clearly and completely.",
        doc_id="KB-20931", annotator="jsmith",
    ),
    JudgeExample(id="a2", query="vpn setup on a new laptop", document="Ask helpdesk@acme.example for a token.", gold=2),
]
SCALE = Scale.parse("1-5")


def rails(**kwargs) -> Guardrails:
    return Guardrails.for_data(EXAMPLES, SCALE, champion_instruction=baseline_instruction(SCALE), **kwargs)


def test_the_baseline_instruction_passes_every_guardrail_on_each_common_scale():
    for text in ("1-5", "0-3", "1-3", "0-10", "1-2"):
        scale = Scale.parse(text)
        checks = Guardrails.for_data(EXAMPLES, scale, champion_instruction="")
        assert checks.check_instruction(baseline_instruction(scale)) == []


def test_a_candidate_copying_eight_words_of_a_document_is_rejected_with_the_copied_run_shown():
    leaked = baseline_instruction(SCALE) + "\nRemember: the form must be submitted through the finance portal before the deadline."
    violations = rails().check_instruction(leaked)
    assert [v.rule for v in violations] == ["verbatim_copy"]
    assert violations[0].text == "form must be submitted through the finance portal before the"


def test_seven_copied_words_pass_at_the_default_length_but_not_when_the_limit_is_lowered():
    seven = "Note that forms must be submitted through the finance portal."
    assert rails().check_instruction(seven) == []
    assert [v.rule for v in rails(min_words=6).check_instruction(seven)] == ["verbatim_copy"]


def test_copied_runs_are_found_whatever_the_case_and_punctuation():
    shouting = "SUBMITTED, THROUGH THE FINANCE PORTAL -- BEFORE THE FIFTH WORKING DAY!"
    assert [v.rule for v in rails().check_instruction(shouting)] == ["verbatim_copy"]


def test_a_copied_human_explanation_is_rejected():
    text = "Prefer documents that explain the portal deadline for claims clearly and completely."
    assert any(v.rule == "verbatim_copy" for v in rails().check_instruction(text))


def test_usernames_emails_and_document_ids_from_the_data_are_rejected():
    for text, expected in (
        ("Trust ratings like the ones jsmith gives.", "jsmith"),
        ("Documents like KB-20931 are always relevant.", "kb-20931"),
        ("Escalate to helpdesk@acme.example when unsure.", "helpdesk@acme.example"),
    ):
        violations = rails().check_instruction(text)
        assert [v.text for v in violations if v.rule == "identifier"] == [expected], text


def test_any_email_address_is_rejected_even_one_not_in_the_data():
    assert [v.rule for v in rails().check_instruction("Mail someone@else.example for help.")] == ["email"]


def test_text_already_in_the_champion_instruction_is_allowed():
    index = LeakIndex.from_examples(EXAMPLES)
    champion = "Forms must be submitted through the finance portal before the fifth working day."
    assert find_leaks(champion + " Be strict.", index, allowed=champion) == []
    assert find_leaks(champion + " Be strict.", index) != []


@pytest.mark.parametrize(
    ("text", "offending"),
    [
        ("Rate on a 1-4 scale.", "1-4"),
        ("Give a score from 0 to 10.", "0 to 10"),
        ("Rate each document out of 10.", "out of 10"),
        ("Express relevance as a percentage.", "percentage"),
        ("Give 80% when unsure.", "80%"),
        ("Use a 4-point scale for ratings.", "4-point"),
        ("Use a three point rating scale.", "three point"),
        ("A rating of 7 means a perfect match.", "rating of 7"),
        ("Scores range 1-3.", "1-3"),
    ],
)
def test_a_candidate_mentioning_another_rating_scale_is_rejected(text, offending):
    violations = find_other_scales(text, SCALE)
    assert [v.text for v in violations] == [offending]
    assert all(v.rule == "other_scale" for v in violations)


@pytest.mark.parametrize(
    "text",
    [
        "Rate 1-5 as usual; 4-5 only for strong matches.",
        "Use 2-3 sentences in the explanation.",
        "Rate 3/5 for partial answers.",
        "Rate outdated documents at most 2 when the query asks for current information.",
        "Documents from 2019 to 2021 are old.",
    ],
)
def test_mentions_of_the_configured_scale_and_unrelated_numbers_pass(text):
    assert find_other_scales(text, SCALE) == []


def test_a_signature_with_changed_output_fields_is_rejected():
    champion = make_signature(SCALE)
    renamed = champion.delete("explanation").append("reason", __import__("dspy").OutputField(), str)
    assert find_field_changes(champion, champion) == []
    violations = find_field_changes(renamed, champion)
    assert [v.rule for v in violations] == ["output_fields"]
    assert "reason" in violations[0].text


def test_check_program_rejects_a_candidate_whose_fields_or_scale_changed():
    from judge.program import RelevanceJudge

    champion = RelevanceJudge(scale=SCALE)
    candidate = champion.deepcopy()
    candidate.predictor.signature = candidate.predictor.signature.with_instructions(
        champion.instruction + "\nRate on a 0-10 scale."
    )
    assert rails().check_program(champion.deepcopy(), champion) == []
    assert [v.rule for v in rails().check_program(candidate, champion)] == ["other_scale"]


def test_the_rejection_log_counts_rejections_and_keeps_the_offending_text():
    log = RejectionLog()
    log.record("gepa", "Rate out of 10.", find_other_scales("Rate out of 10.", SCALE))
    log.record("mipro", "jsmith knows", rails().check_instruction("jsmith knows"))
    assert log.count == 2
    assert log.by_rule() == {"other_scale": 1, "identifier": 1}
    assert log.to_list()[0]["violations"][0]["text"] == "out of 10"


def test_an_index_needs_a_run_length_of_at_least_two_words():
    with pytest.raises(ValueError, match="min_words"):
        LeakIndex.from_examples(EXAMPLES, min_words=1)
