"""Test scenarios for the weekly flow: sample weeks on disk and a rule-aware fake judge.

The fake answers judge requests from the gold ratings of the generated annotations. Without
the library's recency rule ("likely stale") in its instruction it misrates a chosen set of
examples by ``shift`` points; with the rule it rates them right, and it can be told to answer
some examples with prose (a parse error) once the rule is present. Which examples sit in
train, dev and test is known up front because a new query's split is a pure function of its
key (tasks.split.split_for_key), so a test can put the help where the gate will see it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.split import DEFAULT_RATIOS, query_key, split_for_key
from tests.fakes.instruction_lm import blocks
from tests.fakes.openai_server import Reply, answer

TRIGGER = "likely stale"  # from the library's "recency" rule


@dataclass(frozen=True)
class Row:
    id: str
    query: str
    document: str
    gold: int
    split: str


def write_weeks(root: Path, *, weeks: int = 1, end_week: str = "2026-W46", per_week: int = 120) -> list[str]:
    """Generate sample weeks under root/<week>/ and return the week names, oldest first."""
    from judgeflow.sample_data import generate

    files = generate(root, weeks=weeks, seed=7, end_week=end_week, annotations_per_week=per_week, production_per_week=20)
    return sorted({p.parent.name for p in files})


def annotation_rows(root: Path, weeks: list[str]) -> list[Row]:
    """The well-formed annotations of those weeks with the split each query will get."""
    rows = []
    for week in weeks:
        for line in (root / week / "annotations.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                raw = json.loads(line)
            except ValueError:
                continue
            rating, query, document = raw.get("rating"), raw.get("query"), raw.get("document")
            if not (isinstance(rating, int) and 1 <= rating <= 5 and isinstance(query, str) and query.strip()
                    and isinstance(document, str) and document.strip()):
                continue
            split = split_for_key(query_key(query), DEFAULT_RATIOS)
            rows.append(Row(str(raw.get("annotation_id")), query, document, rating, split))
    return rows


def _key(query: str, document: str) -> tuple[str, str]:
    return " ".join(query.split()).casefold(), " ".join(document.split())[:80]


@dataclass
class RuleFake:
    """The responder: gold ratings, minus ``shift`` on ``helped`` rows unless the rule is present."""

    rows: list[Row]
    helped: set[str] = field(default_factory=set)  # row ids the rule fixes
    broken_by_rule: set[str] = field(default_factory=set)  # row ids answered with prose once the rule is in
    shift: int = 2
    log: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_key = {_key(r.query, r.document): r for r in self.rows}
        self._lock = threading.Lock()

    def _row(self, query: str, document: str) -> Row | None:
        doc = document.replace("<document>", "").replace("</document>", "")
        return self._by_key.get(_key(query, doc))

    def __call__(self, request: dict[str, Any]) -> Reply:
        messages = request.get("messages") or []
        system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
        user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        fields = blocks(user)
        row = self._row(fields.get("query", ""), fields.get("document", ""))
        has_rule = TRIGGER in system
        if row is None:
            rating, prose = 3, False
        elif row.id in self.helped and not has_rule:
            rating, prose = max(1, min(5, row.gold - self.shift if row.gold > 2 else row.gold + self.shift)), False
        else:
            rating, prose = row.gold, has_rule and row.id in self.broken_by_rule
        with self._lock:
            self.log.append({"id": row.id if row else None, "rule": has_rule, "rating": rating, "prose": prose})
        if prose:
            return answer(f"I would say {rating}, the document seems fine.")
        return answer(json.dumps({"rating": rating, "explanation": "Judged by the rule-aware fake."}))
