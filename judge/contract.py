"""The strict output contract: raw LM text -> JudgeOutput, the one parser everyone uses.

The judge answers with a JSON object ``{"rating": <int>, "explanation": "<text>"}`` (the
chain-of-thought variant adds a ``"reasoning"`` key first). The JSON may sit inside
```json fences and may be surrounded by prose: the first well-formed JSON object in the text
is the answer. DSPy's ``[[ ## rating ## ]]`` marker format is NOT accepted: the judge uses a
JSON adapter (see judge.adapter), so marker-style text is ``no_json``.

Decisions, each tested:

- ``rating`` must be a JSON integer inside the configured scale. A JSON number with an
  integral value (``4.0``) is that integer; a string holding only an integer numeral (``"4"``)
  is accepted too, because it is unambiguous and dspy's own int parser accepts it. ``true``,
  ``4.5``, ``"4.5"``, ``"five"``, ``null``, lists and objects are ``wrong_type``; an integer
  outside the scale (``7``, ``0`` on 1-5, also ``"7"``) is ``out_of_range``.
- ``explanation`` must be a string (``wrong_type`` otherwise); extra keys are ignored.
- A missing key is ``missing_field`` (checked before types).
- ``truncated_output``: an object that starts but never closes, or any failure when the LM
  reported ``finish_reason == "length"``. A complete, valid object is accepted even when the
  finish reason is ``length`` (e.g. a model padding with whitespace after the object).
- Nothing else: no repair of broken JSON, no second call, no guessing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from judge.scale import Scale
from judge.types import PARSE_ERROR_KINDS, JudgeOutput

__all__ = ["PARSE_ERROR_KINDS", "ContractResult", "JudgeOutput", "check_output", "parse_output"]

_FENCE_RE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_INT_STRING_RE = re.compile(r"^\s*[+-]?\d+\s*$")
REQUIRED_FIELDS = ("rating", "explanation")


@dataclass(frozen=True)
class ContractResult:
    """A parsed output and a one-line human reason (empty when ok), e.g. for optimizer feedback."""

    output: JudgeOutput
    detail: str


class _UnterminatedError(Exception):
    """An object starts with '{' but the text ends before it closes."""


def parse_output(raw: str | None, scale: Scale, *, finish_reason: str | None = None) -> JudgeOutput:
    """Apply the strict contract to raw LM text (see the module docstring for the rules)."""
    return check_output(raw, scale, finish_reason=finish_reason).output


def check_output(
    raw: str | None, scale: Scale, *, finish_reason: str | None = None
) -> ContractResult:
    """Like parse_output, and also say in one line why the output failed the contract."""
    result = _check(raw, scale)
    if result.output.status != "ok" and finish_reason == "length":
        detail = f"the answer was cut off at the token limit ({result.detail})"
        return ContractResult(_error("truncated_output", raw), detail)
    return result


def _check(raw: str | None, scale: Scale) -> ContractResult:
    if raw is None or not raw.strip():
        return ContractResult(_error("no_json", raw), "the answer was empty")
    try:
        obj = _first_object(_unfence(raw))
    except _UnterminatedError:
        return ContractResult(_error("truncated_output", raw), "the JSON object is never closed")
    if obj is None:
        return ContractResult(_error("no_json", raw), "the answer holds no JSON object")
    missing = [name for name in REQUIRED_FIELDS if name not in obj]
    if missing:
        return ContractResult(
            _error("missing_field", raw), f"the JSON object lacks {', '.join(missing)}"
        )
    rating = _as_int(obj["rating"])
    if rating is None:
        detail = f"rating must be an integer {scale}, got {obj['rating']!r}"
        return ContractResult(_error("wrong_type", raw), detail)
    if not scale.contains(rating):
        detail = f"rating must be between {scale.lo} and {scale.hi}, got {rating}"
        return ContractResult(_error("out_of_range", raw), detail)
    explanation = obj["explanation"]
    if not isinstance(explanation, str):
        detail = f"explanation must be a string, got {explanation!r}"
        return ContractResult(_error("wrong_type", raw), detail)
    reasoning = obj.get("reasoning")
    output = JudgeOutput(
        status="ok",
        rating=rating,
        explanation=explanation,
        raw=raw,
        reasoning=reasoning if isinstance(reasoning, str) else None,
    )
    return ContractResult(output, "")


def _error(kind: str, raw: str | None) -> JudgeOutput:
    return JudgeOutput(status="parse_error", error_kind=kind, raw=raw)


def _unfence(text: str) -> str:
    """The inside of the first ``` fence, or the text itself when there is none."""
    match = _FENCE_RE.search(text)
    return match.group(1) if match else text


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_STRING_RE.match(value):
        return int(value)
    return None


def _first_object(text: str) -> dict[str, Any] | None:
    """The first '{' ... '}' span that json.loads reads as an object.

    Raises _UnterminatedError when no span parses and the last '{' tried never closes.
    """
    start = text.find("{")
    unterminated = False
    while start != -1:
        end = _matching_brace(text, start)
        if end is None:
            unterminated = True
        else:
            unterminated = False
            try:
                value = json.loads(text[start : end + 1])
            except ValueError:
                value = None
            if isinstance(value, dict):
                return value
        start = text.find("{", start + 1)
    if unterminated:
        raise _UnterminatedError
    return None


def _matching_brace(text: str, start: int) -> int | None:
    """Index of the '}' closing the '{' at start, honouring JSON strings; None if never closed."""
    depth = 0
    in_string = False
    escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return None
