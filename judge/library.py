"""The instruction library: human-written one-line rules an optimizer may only choose from.

The catalogue is a JSONL file (``judge/library/instructions.jsonl`` by default), one rule a
line: ``{"id", "text", "provenance", "author", "date", "version"}``. A rule id may appear on
several lines with increasing versions; the highest version wins. The catalogue's own version
is a digest of the rules in force, recorded in every manifest that used it.

In library mode the champion's instruction is kept byte for byte and the chosen rules are
appended after it (:func:`compose_instruction`); :func:`greedy_select` adds, one at a time,
the rule that lowers dev NMSE most and stops when none helps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from judgeflow.errors import InputError, JudgeflowError

RULES_HEADER = "Additional rules:"
REQUIRED = ("id", "text", "provenance", "author", "date", "version")


@dataclass(frozen=True)
class Bullet:
    """One human-written rule."""

    id: str
    text: str
    provenance: str
    author: str
    date: str
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Catalogue:
    """The rules in force (latest version of each id), in file order."""

    bullets: tuple[Bullet, ...]
    source: str = ""

    @property
    def version(self) -> str:
        """sha256 (12 hex digits) of the rules in force: changes whenever any rule does."""
        text = json.dumps([b.to_dict() for b in self.bullets], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def get(self, bullet_id: str) -> Bullet:
        for bullet in self.bullets:
            if bullet.id == bullet_id:
                return bullet
        raise InputError(f"no rule {bullet_id!r} in the instruction library {self.source}; check the id")

    def versions(self) -> dict[str, int]:
        return {b.id: b.version for b in self.bullets}


def default_catalogue_path() -> Path:
    return Path(__file__).resolve().parent / "library" / "instructions.jsonl"


def _bullet(row: Any, where: str) -> Bullet:
    if not isinstance(row, dict):
        raise InputError(f"{where}: each line must be a JSON object, got {row!r}")
    missing = [k for k in REQUIRED if k not in row or row[k] in (None, "")]
    if missing:
        raise InputError(f"{where}: rule {row.get('id')!r} lacks {', '.join(missing)}; add them")
    version = row["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"{where}: version must be a positive integer, got {version!r}")
    text = " ".join(str(row["text"]).split())
    if "\n" in str(row["text"]).strip():
        raise InputError(f"{where}: rule {row['id']!r} must be one line")
    return Bullet(str(row["id"]), text, str(row["provenance"]), str(row["author"]), str(row["date"]), version)


def parse_catalogue(lines: Sequence[str], source: str = "") -> Catalogue:
    """A Catalogue from JSONL lines; the highest version of each id wins, first position kept."""
    latest: dict[str, Bullet] = {}
    order: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source or 'library'} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where} is not valid JSON ({exc.msg}); fix the line") from exc
        bullet = _bullet(row, where)
        if bullet.id in latest:
            if bullet.version == latest[bullet.id].version:
                raise InputError(f"{where}: rule {bullet.id!r} version {bullet.version} appears twice; bump the version")
            if bullet.version > latest[bullet.id].version:
                latest[bullet.id] = bullet
        else:
            latest[bullet.id] = bullet
            order.append(bullet.id)
    return Catalogue(tuple(latest[i] for i in order), source)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read the catalogue JSONL (default: the one shipped in judge/library/)."""
    path = Path(path) if path else default_catalogue_path()
    if not path.exists():
        raise InputError(f"instruction library {path} does not exist; pass --library PATH or add the file")
    return parse_catalogue(path.read_text(encoding="utf-8").splitlines(), str(path))


def compose_instruction(base: str, bullets: Sequence[Bullet]) -> str:
    """The base instruction verbatim, then the chosen rules as bullets."""
    if not bullets:
        return base
    rules = "\n".join(f"- {b.text}" for b in bullets)
    return f"{base.rstrip()}\n\n{RULES_HEADER}\n{rules}"


def ensure_appends_only(base: str, instruction: str) -> None:
    """Raise if ``instruction`` is not ``base`` with (possibly zero) rule bullets appended."""
    if instruction == base:
        return
    prefix = f"{base.rstrip()}\n\n{RULES_HEADER}\n"
    body = instruction[len(prefix):] if instruction.startswith(prefix) else None
    if body is None or any(not line.startswith("- ") for line in body.splitlines()):
        raise JudgeflowError("library mode may only append rules to the champion's instruction, not rewrite it")


@dataclass
class SelectionStep:
    """One round of greedy selection: every rule tried and what dev NMSE it gave."""

    round: int
    tried: dict[str, float | None]
    chosen: str | None
    nmse: float


@dataclass
class SelectionResult:
    """The rules chosen in order, the final instruction and the path that led there."""

    base_nmse: float
    nmse: float
    chosen: list[str]
    instruction: str
    steps: list[SelectionStep] = field(default_factory=list)
    rejected: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # bullet id -> violations
    stopped: str = "no_gain"  # no_gain | max_rules | exhausted | budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def greedy_select(
    base: str,
    catalogue: Catalogue,
    nmse_of: Callable[[str], float],
    *,
    max_rules: int = 5,
    min_gain: float = 0.0,
    check: Callable[[str], list[Any]] | None = None,
    stop_on: tuple[type[BaseException], ...] = (),
) -> SelectionResult:
    """Forward selection of rules on ``nmse_of(instruction)`` (lower is better).

    Each round tries every remaining rule appended after those already chosen and keeps the
    best one if it lowers NMSE by more than ``min_gain``; otherwise it stops. A rule whose
    composed instruction fails ``check`` (the guardrails) is rejected and never scored. An
    exception in ``stop_on`` (the call budget) ends the search with the best so far.
    """
    if max_rules < 0:
        raise InputError(f"max_rules must be >= 0, got {max_rules!r}")
    result = SelectionResult(base_nmse=float("nan"), nmse=float("nan"), chosen=[], instruction=base)
    try:
        result.base_nmse = result.nmse = nmse_of(base)
    except stop_on:
        result.stopped = "budget"
        return result
    remaining = list(catalogue.bullets)
    if check is not None:
        for bullet in list(remaining):
            violations = check(compose_instruction(base, [bullet]))
            if violations:
                result.rejected[bullet.id] = [v.to_dict() if hasattr(v, "to_dict") else dict(v) for v in violations]
                remaining.remove(bullet)
    chosen: list[Bullet] = []
    round_no = 0
    while remaining:
        if len(chosen) >= max_rules:
            result.stopped = "max_rules"
            break
        round_no += 1
        tried: dict[str, float | None] = {}
        best: tuple[float, Bullet] | None = None
        try:
            for bullet in remaining:
                score = nmse_of(compose_instruction(base, [*chosen, bullet]))
                tried[bullet.id] = score
                if best is None or score < best[0]:
                    best = (score, bullet)
        except stop_on:
            result.stopped = "budget"
            result.steps.append(SelectionStep(round_no, tried, None, result.nmse))
            break
        if best is None or not best[0] < result.nmse - min_gain:
            result.steps.append(SelectionStep(round_no, tried, None, result.nmse))
            result.stopped = "no_gain"
            break
        chosen.append(best[1])
        remaining.remove(best[1])
        result.nmse = best[0]
        result.steps.append(SelectionStep(round_no, tried, best[1].id, best[0]))
    else:
        result.stopped = "exhausted"
    result.chosen = [b.id for b in chosen]
    result.instruction = compose_instruction(base, chosen)
    return result
