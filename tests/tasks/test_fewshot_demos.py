"""Labeled demos are rendered like live inputs. Stays away from running an optimizer."""

from __future__ import annotations

import dspy

from judge.program import RelevanceJudge
from tasks.optimizers.fewshot import render_labeled_demos


def test_labeled_demos_get_the_delimited_truncated_document_and_bootstrapped_ones_are_kept():
    program = RelevanceJudge(max_document_chars=20)
    raw = dspy.Example(query="q", document="x" * 50, title="", doc_type="wiki", modified_at="", rating=3,
                       explanation="ok")
    traced = dspy.Example(query="q", document="<document>\nalready\n</document>", rating=2, explanation="e",
                          augmented=True)
    program.predictor.demos = [raw, traced]
    render_labeled_demos(program)
    first, second = program.predictor.demos
    assert first.document.startswith("<document>\n" + "x" * 20)
    assert "[truncated: 20 of 50 characters shown]" in first.document
    assert first.title == "unknown" and first.rating == 3
    assert second is traced
