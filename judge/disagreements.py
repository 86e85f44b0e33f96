"""The disagreement report: where the judge and the humans differ most, grouped into themes.

Written after every evaluation as markdown bullets for a human to turn into new library rules
(the flywheel: humans write rules from disagreements, the optimizer picks the rules that help).
Themes are keyword rules over the human rationale, the model's reasoning and the document
metadata; an unparseable answer is its own theme.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from judge.scale import Scale
from judge.types import JudgeExample, JudgeOutput

# (theme, pattern over rationale + reasoning + metadata, a draft rule for the human to edit)
THEMES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "recency",
        re.compile(r"\b(outdated|out of date|old|older|recent|recency|latest|current|stale|deprecated|"
                   r"updated?|archived?|obsolete|years? ago|(?:19|20)\d\d)\b", re.I),
        "When the query needs current information, rate outdated or superseded documents lower.",
    ),
    (
        "doc_type",
        re.compile(r"\b(forum|blog|faq|spam|advert\w*|ads?|product page|listing|press release|"
                   r"doc(?:ument)? type|landing page|boilerplate)\b", re.I),
        "Judge the content, not the page type: spam, ads and boilerplate are not relevant however on-topic.",
    ),
    (
        "title_match",
        re.compile(r"\b(title|heading|headline|keyword\w*|mentions? the (?:query|term)s?)\b", re.I),
        "A title or keyword match alone is not relevance: the body must answer the query.",
    ),
    (
        "partial_answer",
        re.compile(r"\b(partial\w*|incomplete|only part|some of|tangential\w*|related but)\b", re.I),
        "A document that answers only part of the query gets a middle rating, not the top one.",
    ),
)
FORMAT_THEME = (
    "format_failure",
    'Answer with exactly one JSON object {"rating": <integer>, "explanation": "..."} and nothing else.',
)
OTHER_THEME = "other"


@dataclass(frozen=True)
class Disagreement:
    """One example where the judge and the human differ."""

    example_id: str
    query: str
    gold: int
    pred: int | None
    gap: int  # |pred - gold|, or the scale's span for an unparseable answer
    theme: str
    human_rationale: str | None
    model_reasoning: str | None
    raw: str | None = None


@dataclass
class DisagreementReport:
    """The largest disagreements grouped by theme, with draft rules per theme."""

    scale: str
    n_examples: int
    items: list[Disagreement] = field(default_factory=list)

    def themes(self) -> dict[str, list[Disagreement]]:
        grouped: dict[str, list[Disagreement]] = {}
        for item in self.items:
            grouped.setdefault(item.theme, []).append(item)
        return dict(sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])))

    def to_dict(self) -> dict:
        return {"scale": self.scale, "n_examples": self.n_examples, "items": [asdict(i) for i in self.items]}

    def to_markdown(self, title: str = "Disagreements") -> str:
        lines = [f"## {title}", "", f"{len(self.items)} largest of {self.n_examples} examples, scale {self.scale}."]
        if not self.items:
            lines += ["", "- No disagreements: the judge matched every human rating."]
        for theme, items in self.themes().items():
            lines += ["", f"### {theme} ({len(items)})", ""]
            for item in items:
                said = "unparseable" if item.pred is None else str(item.pred)
                lines.append(f"- `{item.example_id}`: judge {said}, human {item.gold} (gap {item.gap}); query: {_clip(item.query)}")
                if item.human_rationale:
                    lines.append(f"  - human: {_clip(item.human_rationale, 240)}")
                if item.model_reasoning:
                    lines.append(f"  - model: {_clip(item.model_reasoning, 240)}")
                elif item.raw and item.pred is None:
                    lines.append(f"  - raw output: {_clip(item.raw, 160)!r}")
            lines.append(f"- Suggested rule (edit before adding to the library): {suggested_rule(theme)}")
        return "\n".join(lines) + "\n"


def _clip(text: str | None, limit: int = 120) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def suggested_rule(theme: str) -> str:
    for name, _, rule in THEMES:
        if name == theme:
            return rule
    if theme == FORMAT_THEME[0]:
        return FORMAT_THEME[1]
    return "Read these cases and write one general rule that would have rated them like the human."


def theme_of(example: JudgeExample, output: JudgeOutput) -> str:
    """The first theme whose keywords appear in the rationale, reasoning or metadata."""
    if output.status == "parse_error":
        return FORMAT_THEME[0]
    text = " ".join(
        t for t in (example.explanation, output.reasoning, output.explanation, example.doc_type,
                    "recent" if example.modified_at and _mentions_time(example.query) else None) if t
    )
    for name, pattern, _ in THEMES:
        if pattern.search(text):
            return name
    if example.title and _title_overlap(example.query, example.title) and output.rating is not None \
            and example.gold is not None and output.rating > example.gold:
        return "title_match"
    return OTHER_THEME


def _mentions_time(query: str) -> bool:
    return bool(re.search(r"\b(latest|current|new|now|today|this year|(?:19|20)\d\d)\b", query, re.I))


def _title_overlap(query: str, title: str) -> bool:
    q = {w for w in re.findall(r"\w+", query.casefold()) if len(w) > 3}
    t = {w for w in re.findall(r"\w+", title.casefold()) if len(w) > 3}
    return bool(q) and len(q & t) / len(q) >= 0.5


def build_report(
    examples: Sequence[JudgeExample], outputs: Sequence[JudgeOutput], scale: Scale, *, top: int = 20,
    min_gap: int = 1,
) -> DisagreementReport:
    """The ``top`` largest disagreements (gap >= ``min_gap``); lm_error rows are left out."""
    if len(examples) != len(outputs):
        raise ValueError(f"got {len(examples)} examples but {len(outputs)} outputs; they must align")
    items: list[Disagreement] = []
    for example, output in zip(examples, outputs, strict=True):
        if example.gold is None or output.status == "lm_error":
            continue
        pred = output.rating if output.status == "ok" else None
        gap = scale.span if pred is None else abs(pred - example.gold)
        if gap < min_gap:
            continue
        items.append(
            Disagreement(example.id, example.query, example.gold, pred, gap, theme_of(example, output),
                         example.explanation, output.reasoning or output.explanation, output.raw)
        )
    items.sort(key=lambda d: (-d.gap, d.example_id))
    return DisagreementReport(str(scale), len(examples), items[:top])
