"""The strict output contract on raw LM text.

Stays away from DSPy and any LM: these tests feed strings straight to parse_output. The same
rules reached through the real adapter path are in test_program.py.
"""

from __future__ import annotations

import pytest

from judge.contract import check_output, parse_output
from judge.scale import Scale

ONE_FIVE = Scale(lo=1, hi=5)
ZERO_THREE = Scale(lo=0, hi=3)


def test_a_plain_json_object_is_ok_and_keeps_the_raw_text():
    raw = '{"rating": 4, "explanation": "Covers the VPN setup steps."}'
    out = parse_output(raw, ONE_FIVE)
    assert (out.status, out.rating, out.explanation, out.error_kind) == (
        "ok",
        4,
        "Covers the VPN setup steps.",
        None,
    )
    assert out.raw == raw


@pytest.mark.parametrize(
    "raw",
    [
        '```json\n{"rating": 2, "explanation": "x"}\n```',
        '```\n{"rating": 2, "explanation": "x"}\n```',
        'Here is my judgement:\n{"rating": 2, "explanation": "x"}\nThanks.',
        '{"explanation": "x", "rating": 2, "confidence": "high"}',
    ],
)
def test_fenced_json_prose_around_it_and_extra_keys_are_accepted(raw):
    out = parse_output(raw, ONE_FIVE)
    assert (out.status, out.rating, out.explanation) == ("ok", 2, "x")


def test_braces_inside_strings_do_not_confuse_the_object_boundary():
    out = parse_output('{"rating": 3, "explanation": "mentions } and { in text"}', ONE_FIVE)
    assert (out.status, out.explanation) == ("ok", "mentions } and { in text")


def test_the_first_object_that_is_valid_json_wins_over_earlier_brace_noise():
    out = parse_output('Scale {1-5}. {"rating": 5, "explanation": "exact answer"}', ONE_FIVE)
    assert (out.status, out.rating) == ("ok", 5)


def test_reasoning_key_from_chain_of_thought_is_kept():
    out = parse_output('{"reasoning": "It answers it.", "rating": 5, "explanation": "e"}', ONE_FIVE)
    assert out.reasoning == "It answers it."


def test_a_string_holding_only_an_integer_numeral_is_accepted_as_that_integer():
    assert parse_output('{"rating": "4", "explanation": "e"}', ONE_FIVE).rating == 4
    assert parse_output('{"rating": " 3 ", "explanation": "e"}', ONE_FIVE).rating == 3


def test_a_json_number_with_an_integral_value_is_that_integer():
    out = parse_output('{"rating": 4.0, "explanation": "e"}', ONE_FIVE)
    assert (out.status, out.rating) == ("ok", 4)
    assert isinstance(out.rating, int)


@pytest.mark.parametrize(
    "rating",
    [
        "true",
        "false",
        "4.5",
        '"4.5"',
        '"five"',
        "null",
        "[4]",
        '{"v": 4}',
        '"4/5"',
        '"**4**"',
        '""',
    ],
)
def test_ratings_that_are_not_integers_are_wrong_type(rating):
    out = parse_output(f'{{"rating": {rating}, "explanation": "e"}}', ONE_FIVE)
    assert (out.status, out.error_kind, out.rating) == ("parse_error", "wrong_type", None)


def test_an_explanation_that_is_not_a_string_is_wrong_type():
    out = parse_output('{"rating": 4, "explanation": 4}', ONE_FIVE)
    assert out.error_kind == "wrong_type"


@pytest.mark.parametrize("rating", ["7", "0", "-1", "6", '"7"'])
def test_integers_outside_the_one_to_five_scale_are_out_of_range(rating):
    out = parse_output(f'{{"rating": {rating}, "explanation": "e"}}', ONE_FIVE)
    assert (out.status, out.error_kind) == ("parse_error", "out_of_range")


def test_the_range_follows_the_configured_scale():
    assert parse_output('{"rating": 0, "explanation": "e"}', ZERO_THREE).rating == 0
    assert (
        parse_output('{"rating": 4, "explanation": "e"}', ZERO_THREE).error_kind == "out_of_range"
    )


@pytest.mark.parametrize(
    "raw",
    ['{"rating": 4}', '{"explanation": "e"}', '{"Rating": 4, "Explanation": "e"}', "{}"],
)
def test_an_object_without_both_fields_is_missing_field(raw):
    assert parse_output(raw, ONE_FIVE).error_kind == "missing_field"


def test_a_missing_field_is_reported_before_a_wrong_type():
    assert parse_output('{"rating": "five"}', ONE_FIVE).error_kind == "missing_field"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   \n",
        "The rating is 4 because it answers the question.",
        "[[ ## rating ## ]]\n4\n\n[[ ## explanation ## ]]\nok\n\n[[ ## completed ## ]]",
        "{rating: 4, explanation: ok}",
        "[4, 5]",
    ],
)
def test_text_without_a_json_object_is_no_json(raw):
    out = parse_output(raw, ONE_FIVE)
    assert (out.status, out.error_kind, out.raw) == ("parse_error", "no_json", raw)


def test_an_object_that_never_closes_is_truncated_output():
    raw = '{"rating": 4, "explanation": "The document describes the VPN cli'
    out = parse_output(raw, ONE_FIVE)
    assert (out.status, out.error_kind, out.raw) == ("parse_error", "truncated_output", raw)


def test_any_failure_with_finish_reason_length_is_truncated_output():
    out = parse_output("The document is about", ONE_FIVE, finish_reason="length")
    assert out.error_kind == "truncated_output"
    assert parse_output("", ONE_FIVE, finish_reason="length").error_kind == "truncated_output"


def test_a_complete_valid_object_is_ok_even_when_finish_reason_is_length():
    out = parse_output(
        '{"rating": 2, "explanation": "e"}\n\n\n\n', ONE_FIVE, finish_reason="length"
    )
    assert (out.status, out.rating) == ("ok", 2)


def test_finish_reason_stop_does_not_change_the_verdict():
    assert parse_output("no json here", ONE_FIVE, finish_reason="stop").error_kind == "no_json"


def test_check_output_names_the_bad_value_in_its_detail():
    result = check_output('{"rating": 7, "explanation": "e"}', ONE_FIVE)
    assert result.output.error_kind == "out_of_range"
    assert "7" in result.detail and "1" in result.detail and "5" in result.detail
    assert check_output('{"rating": 3, "explanation": "e"}', ONE_FIVE).detail == ""
