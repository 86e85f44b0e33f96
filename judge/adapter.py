"""The judge's DSPy adapter: JSON in the prompt, the strict contract on the way back.

A ``JSONAdapter`` whose ``parse`` is judge.contract (so DSPy, the evaluation engine, the
optimizers and the score CLI all judge an answer the same way) and which never makes a
second call: ``JSONAdapter`` is exempt from ``ChatAdapter``'s fallback, and
``json_repair`` is never used. By default it sends no ``response_format``: the prompt and
the contract, not constrained decoding, decide the format, so the parse rate stays an honest
measure of the prompt. An LM configured with ``constrained_json`` gets the answer's JSON
schema (the signature's output fields, the rating bounded by the scale) as
``response_format``, in the shape its server reads; the contract still checks every answer.
"""

from __future__ import annotations

from typing import Any

from dspy.adapters import JSONAdapter
from dspy.utils.exceptions import AdapterParseError

from judge.contract import check_output
from judge.scale import DEFAULT_SCALE, Scale
from judge.types import JudgeOutput


class JudgeParseError(AdapterParseError):
    """An answer that broke the contract; ``kind`` is the parse-error kind, ``output`` the JudgeOutput."""

    def __init__(self, signature: Any, lm_response: str, output: JudgeOutput, detail: str):
        self.kind = output.error_kind
        self.output = output
        self.detail = detail
        super().__init__(
            adapter_name="JudgeAdapter",
            signature=signature,
            lm_response=lm_response,
            message=f"{output.error_kind}: {detail}",
        )


class JudgeAdapter(JSONAdapter):
    """JSON answers checked by the strict contract on ``scale``; one LM call per prediction."""

    def __init__(self, scale: Scale = DEFAULT_SCALE, callbacks: list | None = None):
        super().__init__(callbacks=callbacks, use_native_function_calling=False)
        self.scale = scale

    def _prepare_response_format(self, lm, lm_kwargs, signature) -> None:
        """No response_format, unless the LM asks for constrained JSON (see the module docstring)."""
        shape = getattr(lm, "response_schema", None)
        if shape is not None:
            lm_kwargs["response_format"] = response_format(signature, self.scale, shape)

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        result = check_output(completion, self.scale)
        output = result.output
        if output.status != "ok":
            raise JudgeParseError(signature, completion, output, result.detail)
        values: dict[str, Any] = {"rating": output.rating, "explanation": output.explanation}
        if "reasoning" in signature.output_fields:
            values["reasoning"] = output.reasoning
        return values


def answer_schema(signature: Any, scale: Scale) -> dict[str, Any]:
    """The JSON schema of a valid answer: every output field, the rating an integer on ``scale``."""
    properties: dict[str, Any] = {}
    for name in signature.output_fields:
        if name == "rating":
            properties[name] = {"type": "integer", "minimum": scale.lo, "maximum": scale.hi}
        else:
            properties[name] = {"type": "string"}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def response_format(signature: Any, scale: Scale, shape: str) -> dict[str, Any]:
    """``answer_schema`` as response_format: "openai" (json_schema) or "llama_cpp" (json_object + schema)."""
    schema = answer_schema(signature, scale)
    if shape == "llama_cpp":
        return {"type": "json_object", "schema": schema}
    if shape == "openai":
        return {"type": "json_schema", "json_schema": {"name": "relevance_verdict", "strict": True, "schema": schema}}
    raise ValueError(f"response schema shape must be 'openai' or 'llama_cpp', got {shape!r}")


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def read_call(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """(raw text, finish_reason) of one dspy LM history entry (lm15 Response or OpenAI-shaped)."""
    outputs = entry.get("outputs") or [None]
    first = outputs[0]
    raw = first.get("text") if isinstance(first, dict) else first
    response = entry.get("response")
    reason = _field(response, "finish_reason")
    if reason is None:
        choices = _field(response, "choices") or []
        reason = _field(choices[0], "finish_reason") if choices else None
    return raw, reason


def usage_of(history: list[dict[str, Any]]) -> dict[str, float]:
    """calls, prompt_tokens, completion_tokens and cost summed over dspy LM history entries."""
    usage: dict[str, float] = {"calls": len(history)}
    for key in ("prompt_tokens", "completion_tokens"):
        values = [(e.get("usage") or {}).get(key) for e in history]
        if any(v is not None for v in values):
            usage[key] = sum(v or 0 for v in values)
    costs = [e.get("cost") for e in history if e.get("cost") is not None]
    if costs:
        usage["cost"] = float(sum(costs))
    return usage
