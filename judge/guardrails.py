"""Guardrails every candidate instruction must pass, whatever optimizer produced it.

Three small checks, each returning :class:`Violation` records (an empty list means pass):

- :func:`find_leaks`: a verbatim run of ``min_words`` or more words from any train or dev
  query, document or explanation, or a username, email address or document id from the data;
- :func:`find_other_scales`: any rating scale other than the configured one (1-3, 0-10, "out
  of 10", percentages, a 4-point scale, ...);
- :func:`find_field_changes`: a signature whose input or output fields differ from the champion's.

Runs already present in the champion's (approved) instruction are allowed: a guardrail rejects
what an optimizer *added*, not what a human wrote. :class:`RejectionLog` counts rejections and
keeps the offending text for the report; it is shared by the optimizer wrappers across threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from judge.scale import Scale
from judge.types import JudgeExample

DEFAULT_MIN_WORDS = 8
_WORD_RE = re.compile(r"[\w']+", re.UNICODE)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SENTENCE_RE = re.compile(r"[^.!?\n]+")
_SCALE_WORDS = re.compile(r"\b(rat(e|es|ed|ing|ings)|scor(e|es|ed|ing)|scale|grade|points?|stars?|marks?)\b", re.I)
_RANGE_RE = re.compile(r"(?<![\w.])(-?\d{1,3})\s*(?:-|–|—|to|through)\s*(-?\d{1,3})(?![\w.])", re.I)
_OUT_OF_RE = re.compile(r"\bout\s+of\s+(\d{1,3})\b|(?<![\w.])(\d{1,3})\s*/\s*(\d{1,3})(?![\w.])", re.I)
_POINT_RE = re.compile(r"\b(\d{1,3}|two|three|four|five|six|seven|ten)[\s-]+(?:point|star|level)\b", re.I)
_PERCENT_RE = re.compile(r"\d+(?:\.\d+)?\s*%|\bper\s?cent(age)?s?\b", re.I)
_SCALE_CONTEXT = re.compile(r"\b(scale|point|range|from|between)\b", re.I)
_VALUE_RE = re.compile(r"\b(?:rating|score|rate it|grade)\s+(?:of\s+|=\s*|:\s*)?(-?\d{1,3})\b", re.I)
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}


@dataclass(frozen=True)
class Violation:
    """One reason to reject a candidate: the rule, the offending text and a short why."""

    rule: str  # verbatim_copy | identifier | email | other_scale | output_fields
    text: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation and spacing never hide a copied run."""
    return [w.casefold() for w in _WORD_RE.findall(text or "")]


def _ngrams(tokens: list[str], n: int) -> Iterable[str]:
    for i in range(len(tokens) - n + 1):
        yield " ".join(tokens[i : i + n])


@dataclass
class LeakIndex:
    """Word n-grams and identifiers of the data an optimizer saw (train and dev)."""

    min_words: int = DEFAULT_MIN_WORDS
    ngrams: set[int] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)  # casefolded usernames, doc ids, emails

    @classmethod
    def from_examples(cls, examples: Iterable[JudgeExample], *, min_words: int = DEFAULT_MIN_WORDS) -> LeakIndex:
        if min_words < 2:
            raise ValueError(f"min_words must be at least 2, got {min_words!r}")
        index = cls(min_words=min_words)
        for ex in examples:
            for text in (ex.query, ex.document, ex.explanation or ""):
                index.ngrams.update(hash(g) for g in _ngrams(words(text), min_words))
                index.identifiers.update(m.casefold() for m in _EMAIL_RE.findall(text))
            for ident in (ex.annotator, ex.doc_id):
                if ident and len(ident.strip()) >= 3:
                    index.identifiers.add(ident.strip().casefold())
        return index


def find_leaks(instruction: str, index: LeakIndex, *, allowed: str = "") -> list[Violation]:
    """Verbatim runs and identifiers from the data in ``instruction`` (not already in ``allowed``)."""
    found: list[Violation] = []
    tokens = words(instruction)
    n = index.min_words
    allowed_grams = {hash(g) for g in _ngrams(words(allowed), n)}
    hits = [
        i for i, g in enumerate(_ngrams(tokens, n)) if hash(g) in index.ngrams and hash(g) not in allowed_grams
    ]
    # Merge overlapping windows into maximal copied runs.
    runs: list[tuple[int, int]] = []
    for i in hits:
        if runs and i <= runs[-1][1]:
            runs[-1] = (runs[-1][0], i + n)
        else:
            runs.append((i, i + n))
    for start, end in runs:
        found.append(
            Violation("verbatim_copy", " ".join(tokens[start:end]), f"{end - start} words copied verbatim from the data")
        )
    folded = instruction.casefold()
    allowed_folded = allowed.casefold()
    for ident in sorted(index.identifiers):
        pattern = re.compile(rf"(?<![\w@.-]){re.escape(ident)}(?![\w@-])")
        if pattern.search(folded) and not pattern.search(allowed_folded):
            found.append(Violation("identifier", ident, "a username, email address or document id from the data"))
    for email in _EMAIL_RE.findall(instruction):
        if email.casefold() not in index.identifiers and email.casefold() not in allowed_folded:
            found.append(Violation("email", email, "an email address"))
    return found


def _scale_sentences(text: str) -> Iterable[str]:
    for sentence in _SENTENCE_RE.findall(text):
        if _SCALE_WORDS.search(sentence):
            yield sentence


def find_other_scales(instruction: str, scale: Scale, *, allowed: str = "") -> list[Violation]:
    """Mentions of a rating scale other than ``scale`` in ``instruction``."""
    found: list[Violation] = []
    points = scale.hi - scale.lo + 1

    def add(text: str, detail: str) -> None:
        if text.strip() and text.strip().casefold() not in allowed.casefold():
            found.append(Violation("other_scale", text.strip(), f"{detail}; the configured scale is {scale}"))

    for match in _PERCENT_RE.finditer(instruction):
        add(match.group(0), "a percentage scale")
    for sentence in _scale_sentences(instruction):
        for match in _RANGE_RE.finditer(sentence):
            lo, hi = int(match.group(1)), int(match.group(2))
            if (lo, hi) == (scale.lo, scale.hi):
                continue
            inside = scale.lo <= lo < hi <= scale.hi
            # "4-5 for strong matches" names levels; "a 1-4 scale" or "from 1 to 4" is a scale.
            around = sentence[max(0, match.start() - 12) : match.end() + 12]
            if not inside or _SCALE_CONTEXT.search(around):
                add(match.group(0), f"a {lo}-{hi} range")
        for match in _OUT_OF_RE.finditer(sentence):
            top = int(match.group(1) or match.group(3))
            if top != scale.hi:
                add(match.group(0), f"ratings out of {top}")
        for match in _POINT_RE.finditer(sentence):
            raw = match.group(1).casefold()
            count = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
            if count != points:
                add(match.group(0), f"a {count}-point scale")
        for match in _VALUE_RE.finditer(sentence):
            if not scale.lo <= int(match.group(1)) <= scale.hi:
                add(match.group(0), f"a rating of {match.group(1)}, off the scale")
    return found


def signature_fields(signature: Any) -> dict[str, list[str]]:
    """Input and output field names of a dspy signature, in order."""
    return {"inputs": list(signature.input_fields), "outputs": list(signature.output_fields)}


def find_field_changes(candidate_signature: Any, champion_signature: Any) -> list[Violation]:
    """A violation when the candidate's input or output fields differ from the champion's."""
    got, want = signature_fields(candidate_signature), signature_fields(champion_signature)
    found = []
    for side in ("inputs", "outputs"):
        if got[side] != want[side]:
            found.append(
                Violation("output_fields" if side == "outputs" else "input_fields", ", ".join(got[side]),
                          f"{side} changed from {want[side]} to {got[side]}")
            )
    return found


@dataclass
class Guardrails:
    """All instruction checks bound to one run's data, scale and champion instruction."""

    index: LeakIndex
    scale: Scale
    champion_instruction: str = ""

    @classmethod
    def for_data(
        cls, examples: Iterable[JudgeExample], scale: Scale, *, champion_instruction: str = "",
        min_words: int = DEFAULT_MIN_WORDS,
    ) -> Guardrails:
        return cls(LeakIndex.from_examples(examples, min_words=min_words), scale, champion_instruction)

    def check_instruction(self, instruction: str) -> list[Violation]:
        allowed = self.champion_instruction
        return find_leaks(instruction, self.index, allowed=allowed) + find_other_scales(
            instruction, self.scale, allowed=allowed
        )

    def check_program(self, program: Any, champion: Any | None = None) -> list[Violation]:
        """Every predictor's instruction, and its fields against the champion's when given."""
        found: list[Violation] = []
        champions = dict(champion.named_predictors()) if champion is not None else {}
        for name, predictor in program.named_predictors():
            found.extend(self.check_instruction(predictor.signature.instructions))
            if name in champions:
                found.extend(find_field_changes(predictor.signature, champions[name].signature))
            elif champion is not None:
                found.append(Violation("output_fields", name, f"predictor {name!r} is not in the champion"))
        return found


@dataclass
class RejectionLog:
    """Counts rejected candidates and keeps what they said, for the manifest and report."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, source: str, instruction: str, violations: list[Violation]) -> None:
        with self._lock:
            self.entries.append(
                {"source": source, "instruction": instruction, "violations": [v.to_dict() for v in violations]}
            )

    @property
    def count(self) -> int:
        return len(self.entries)

    def by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            for rule in {v["rule"] for v in entry["violations"]}:
                counts[rule] = counts.get(rule, 0) + 1
        return counts

    def to_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.entries]
