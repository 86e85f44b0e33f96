"""Data discipline for optimizers: train to learn from, dev to select on, test never.

Examples reach an optimizer only inside a :class:`SplitSet`, which carries the split it was
loaded from. :func:`check_split_sets` is called by every optimizer entry point and refuses a
set labelled test, a train set that is not train, a selection set that is not dev, and any
example whose query key belongs to the test split (the structural guard: even an example
mislabelled by hand is caught by its query).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import dspy
import duckdb

from judge.program import INPUT_FIELDS, RelevanceJudge
from judge.types import JudgeExample
from judgeflow.errors import InputError


class SplitLeakError(InputError):
    """A test-split example was about to reach an optimizer."""


@dataclass(frozen=True)
class SplitSet:
    """Examples tagged with the split (and week) they were loaded from."""

    split: str
    week: str
    examples: tuple[JudgeExample, ...]

    def __len__(self) -> int:
        return len(self.examples)


def load_split(con: duckdb.DuckDBPyConnection, split: str, week: str) -> SplitSet:
    """The stored examples of ``split`` up to ``week``, tagged with their split."""
    from tasks.split import load_examples

    return SplitSet(split, week, tuple(load_examples(con, split, week)))


def test_query_keys(con: duckdb.DuckDBPyConnection, week: str) -> frozenset[str]:
    """Query keys of the test split (weeks up to ``week``): what no optimizer may see."""
    from tasks.split import load_examples, query_key

    return frozenset(query_key(e.query) for e in load_examples(con, "test", week))


def check_split_sets(trainset: Any, valset: Any, test_keys: Collection[str]) -> None:
    """Raise SplitLeakError/InputError unless train is train, val is dev and neither touches test."""
    from tasks.split import query_key

    for name, value, want in (("trainset", trainset, "train"), ("valset", valset, "dev")):
        if not isinstance(value, SplitSet):
            raise InputError(
                f"{name} must be a SplitSet tagged with its split (use tasks.optimizers.data.load_split), "
                f"got {type(value).__name__}"
            )
        if value.split == "test":
            raise SplitLeakError(f"{name} is the test split; optimizers may only see train (and dev for selection)")
        if value.split != want:
            raise InputError(f"{name} must be the {want} split, got {value.split!r}")
        for example in value.examples:
            if query_key(example.query) in test_keys:
                raise SplitLeakError(
                    f"example {example.id!r} in {name} has a query from the test split; "
                    "the test split is reserved for the promotion gate"
                )
    if not trainset.examples:
        raise InputError(f"the train split of {trainset.week} is empty; ingest and split labelled data first")
    if not valset.examples:
        raise InputError(f"the dev split of {valset.week} is empty; ingest more labelled data first")
    unlabelled = [e.id for s in (trainset, valset) for e in s.examples if e.gold is None]
    if unlabelled:
        raise InputError(f"optimizers need labelled examples; {unlabelled[0]!r} has no gold rating")


def to_dspy(examples: Iterable[JudgeExample], split: str) -> list[dspy.Example]:
    """dspy Examples with the judge's inputs, gold ``rating``, human ``explanation`` and split tag."""
    out = []
    for e in examples:
        row = {
            "query": e.query,
            "document": e.document,
            "title": e.title or "",
            "doc_type": e.doc_type or "",
            "modified_at": e.modified_at or "",
            "rating": e.gold,
            "explanation": e.explanation or "",
            "example_id": e.id,
            "split": split,
        }
        out.append(dspy.Example(**row).with_inputs(*INPUT_FIELDS))
    return out


class OptimizableJudge(RelevanceJudge):
    """The judge as optimizers run it: a contract failure is a scored prediction, not a crash.

    The failed call is put on the trace like a normal one, so GEPA's reflection sees the
    metric's format-failure feedback for it and BootstrapFewShot never keeps it as a demo.
    """

    def forward(self, query: str, document: str, title="", doc_type="", modified_at="") -> dspy.Prediction:
        from dspy.utils.exceptions import AdapterParseError

        from judge.contract import parse_output

        try:
            return super().forward(query, document, title, doc_type, modified_at)
        except AdapterParseError as exc:
            output = getattr(exc, "output", None) or parse_output(exc.lm_response, self.scale)
            pred = dspy.Prediction(
                rating=None, explanation=output.explanation, status="parse_error",
                error_kind=output.error_kind, raw=exc.lm_response,
            )
            trace = dspy.settings.trace
            if trace is not None:
                trace.append((self.predictor, self.inputs(query, document, title, doc_type, modified_at), pred))
            return pred


def as_optimizable(program: RelevanceJudge) -> OptimizableJudge:
    """An OptimizableJudge with ``program``'s configuration and state."""
    twin = OptimizableJudge(
        scale=program.scale, variant=program.variant, n_samples=program.n_samples,
        aggregate=program.aggregate, max_document_chars=program.max_document_chars,
    )
    twin.load_state(program.dump_state())
    return twin


def as_judge(optimized: dspy.Module, champion: RelevanceJudge) -> RelevanceJudge:
    """A plain RelevanceJudge carrying ``optimized``'s instructions and demos."""
    candidate = champion.deepcopy()
    candidate.load_state(optimized.dump_state())
    return candidate
