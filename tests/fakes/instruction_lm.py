"""An instruction-sensitive fake LM for the loopback server: answers depend on the prompt.

Plug it into ``tests.fakes.openai_server.FakeOpenAIServer`` as the responder. For a judge
request it looks up the example by its document and answers:

- the gold rating, except for an *outdated* case, which it over-rates (``naive_rating``)
  unless the instruction contains the recency trigger word;
- a malformed answer (prose, no JSON) for a *fragile* case unless the prompt carries demos
  (more than one user message) or the instruction contains the format trigger.

For a GEPA reflection request (output field ``new_instruction``) it returns the current
instruction plus the next scripted addition, but only when the request carries the Dash
feedback ("Predicted rating ... expected"); otherwise it echoes the instruction unchanged.
For any other structured request (MIPROv2's proposer) it fills every output field, putting
the current/basic instruction plus ``mipro_addition`` into ``proposed_instruction``.

Every decision is appended to ``self.log`` so tests assert on what the fake saw.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.fakes.openai_server import Reply, answer

RECENCY_RULE = "Rate outdated documents at most 2 when the query asks for current information."
FORMAT_RULE = "Answer with one JSON object and nothing else."
_BLOCK_RE = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\Z)", re.S)
_OUTPUT_FIELDS_RE = re.compile(r"Your output fields are:\n(.*?)(?:\n\n|\Z)", re.S)
_FIELD_NAME_RE = re.compile(r"`(\w+)`")


@dataclass(frozen=True)
class FakeCase:
    """What the fake knows about one example: matched by a substring of its document."""

    document_key: str
    gold: int
    outdated: bool = False
    fragile: bool = False


def blocks(text: str) -> dict[str, str]:
    """``[[ ## name ## ]]`` sections of an adapter-formatted message."""
    return {name: value.strip() for name, value in _BLOCK_RE.findall(text or "")}


def _messages(request: dict[str, Any], role: str) -> list[str]:
    out = []
    for message in request.get("messages") or []:
        if message.get("role") == role:
            content = message.get("content")
            if isinstance(content, list):
                content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            out.append(str(content or ""))
    return out


class InstructionSensitiveLM:
    """The responder; see the module docstring."""

    def __init__(
        self,
        cases: Sequence[FakeCase],
        *,
        naive_rating: int = 5,
        recency_trigger: str = "outdated documents",
        format_trigger: str = "one JSON object and nothing else",
        proposals: Sequence[str] = (RECENCY_RULE,),
    ) -> None:
        self.cases = list(cases)
        self.naive_rating = naive_rating
        self.recency_trigger = recency_trigger.casefold()
        self.format_trigger = format_trigger.casefold()
        self.proposals = list(proposals)
        self.mipro_addition = RECENCY_RULE  # what MIPROv2's proposer gets back after the basic instruction
        self.log: list[dict[str, Any]] = []
        self._proposed = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        system = "\n".join(_messages(request, "system"))
        users = _messages(request, "user")
        fields_match = _OUTPUT_FIELDS_RE.search(system)
        outputs = _FIELD_NAME_RE.findall(fields_match.group(1)) if fields_match else []
        if "rating" in outputs:
            return self._judge(system, users)
        if "new_instruction" in outputs:
            return self._reflect(users)
        return self._structured(system, users, outputs)

    # -- the judge --
    def _case(self, document: str) -> FakeCase | None:
        for case in self.cases:
            if case.document_key in document:
                return case
        return None

    def _judge(self, system: str, users: list[str]) -> Reply:
        last = blocks(users[-1] if users else "")
        case = self._case(last.get("document", ""))
        instruction = system.casefold()
        has_rule = self.recency_trigger in instruction
        has_demos = len(users) > 1
        has_format = self.format_trigger in instruction
        if case is None:
            rating, malformed = 3, False
        else:
            rating = self.naive_rating if case.outdated and not has_rule else case.gold
            malformed = case.fragile and not (has_demos or has_format)
        with self._lock:
            self.log.append({"kind": "judge", "case": case.document_key if case else None, "rule": has_rule,
                             "demos": has_demos, "format": has_format, "rating": rating, "malformed": malformed})
        if malformed:
            return answer(f"Rating: {rating} - the document looks relevant to me.")
        return answer(json.dumps({"rating": rating, "explanation": "Judged by the fake."}))

    # -- GEPA's reflection LM --
    def _reflect(self, users: list[str]) -> Reply:
        text = "\n".join(users)
        current = blocks(text).get("current_instruction", "")
        saw_feedback = "Predicted rating" in text and "expected" in text
        with self._lock:
            addition = None
            if saw_feedback and self.proposals:
                addition = self.proposals[min(self._proposed, len(self.proposals) - 1)]
                self._proposed += 1
            self.log.append({"kind": "reflect", "feedback": saw_feedback, "addition": addition})
        new = f"{current}\n{addition}" if addition and addition not in current else current
        return answer(json.dumps({"new_instruction": new}))

    # -- anything else (MIPROv2's proposer and summarisers) --
    def _structured(self, system: str, users: list[str], outputs: list[str]) -> Reply:
        found = blocks(users[-1] if users else "")
        base = found.get("basic_instruction") or found.get("current_instruction") or ""
        values = {}
        for name in outputs or ["answer"]:
            if name == "proposed_instruction":
                values[name] = f"{base}\n{self.mipro_addition}".strip()
            else:
                values[name] = "Queries paired with documents, rated for relevance."
        with self._lock:
            self.log.append({"kind": "structured", "fields": outputs})
        if "[[ ## completed ## ]]" in system:
            body = "\n\n".join(f"[[ ## {k} ## ]]\n{v}" for k, v in values.items()) + "\n\n[[ ## completed ## ]]"
            return answer(body)
        return answer(json.dumps(values))

    def count(self, kind: str, **where: Any) -> int:
        with self._lock:
            return sum(1 for e in self.log if e["kind"] == kind and all(e.get(k) == v for k, v in where.items()))


def synthetic_split(split: str, n: int, *, outdated_every: int = 3, fragile_every: int = 4) -> tuple[list[Any], list[FakeCase]]:
    """``n`` labelled JudgeExamples of ``split`` and the FakeCases that script the fake for them.

    Every ``outdated_every``-th document is an archived page (gold 2, over-rated without the
    recency rule); every ``fragile_every``-th (offset 1) is answered in prose without demos.
    """
    from judge.types import JudgeExample

    examples, cases = [], []
    for i in range(n):
        key = f"{split}-doc-{i:03d}"
        outdated = i % outdated_every == 0
        body = (
            "Archived 2009 edition of the travel policy handbook for contractors."
            if outdated else f"Guide {i} walks through the expense claim process step by step."
        )
        gold = 2 if outdated else 4
        examples.append(JudgeExample(
            id=key, query=f"how do I file expenses ({split} {i})", document=f"{key}: {body}", gold=gold,
            explanation="The page is outdated and the person asks about the policy in force now."
            if outdated else "Covers what was asked.",
        ))
        cases.append(FakeCase(key, gold, outdated=outdated, fragile=i % fragile_every == 1))
    return examples, cases
