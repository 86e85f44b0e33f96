"""Plain records shared by the judge, the evaluation engine and the optimizers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "parse_error", "lm_error"]
PARSE_ERROR_KINDS = ("no_json", "missing_field", "wrong_type", "out_of_range", "truncated_output")


@dataclass(frozen=True)
class JudgeExample:
    """One human-labelled (or, for production, unlabelled) query-document pair."""

    id: str
    query: str
    document: str
    gold: int | None = None
    explanation: str | None = None
    title: str | None = None
    doc_type: str | None = None
    modified_at: str | None = None
    doc_id: str | None = None
    annotator: str | None = None
    week: str | None = None


@dataclass(frozen=True)
class JudgeOutput:
    """What the judge said about one example, parsed against the strict contract.

    ``raw`` is the LM's text exactly as received, kept for every prediction. ``rating`` is set
    only when ``status == "ok"``. ``error_kind`` is a parse-error kind (see PARSE_ERROR_KINDS)
    or, for ``lm_error``, the exception class name.
    """

    status: Status
    rating: int | None = None
    explanation: str | None = None
    error_kind: str | None = None
    raw: str | None = None
    reasoning: str | None = None
    samples: tuple[int | None, ...] = field(default_factory=tuple)  # self-consistency votes
    spread: float | None = None  # self-consistency disagreement, a confidence signal
    usage: dict[str, float] = field(default_factory=dict)  # prompt_tokens, completion_tokens, cost, calls
