"""The written rater guidelines as code: parse a query, rate a document, explain the rating.

Everything here is a pure function of what a rater (or a judge) can see: the query text and
the document's title, type, modification time and text, plus the moment of rating. The
sample-data generator uses it for the human labels, and tests and fake LMs can reuse it to
know what a guideline-following judge would answer. See docs/RATER_GUIDELINES.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from judgeflow.errors import InputError
from tasks.split import normalise_query

DOC_TYPES = ("file", "message", "wiki", "ticket", "person")
LOWEST, HIGHEST = 1, 5  # the sample data is labelled on the default 1-5 scale
STALE_AFTER = timedelta(days=365)
EVERGREEN_TITLE_WORDS = frozenset({"policy", "policies", "handbook"})
STOPWORDS = frozenset(
    {"a", "an", "the", "of", "for", "to", "and", "in", "on", "at", "with", "about", "is", "my", "how", "what", "who", "i"}
)


@dataclass(frozen=True)
class Rule:
    """One guideline: a stable id, the text raters read, and its effect on the rating."""

    id: str
    text: str
    effect: str


RULES: tuple[Rule, ...] = (
    Rule("exact_title", "If the query is exactly the document's title (ignoring case and spacing), rate 5.", "sets 5"),
    Rule(
        "topical",
        "Otherwise start from topical overlap: the query's topic in the title or first sentence 4; "
        "only elsewhere in the text 3; some of its words but not the topic 2; nothing 1.",
        "base 1-4",
    ),
    Rule("recency", "A document last modified more than a year before rating loses a point.", "-1"),
    Rule("evergreen", "Policies, handbooks and people profiles are exempt from the recency rule.", "cancels recency"),
    Rule(
        "doc_type",
        "If the query asks for a kind of item (ticket, person, file, wiki page, message) "
        "and the document is another kind, it loses a point.",
        "-1",
    ),
    Rule("clamp", "Keep the result between 1 and 5.", "clamps"),
)
RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)

# (intent, pattern): the ways a query can ask for a kind of item; "{p}" is the topic phrase.
# Order matters: the first pattern that matches wins, the bare topic comes last.
QUERY_TEMPLATES: tuple[tuple[str | None, str], ...] = (
    ("ticket", "ticket about {p}"),
    ("ticket", "open tickets for {p}"),
    ("ticket", "jira {p}"),
    ("person", "who owns {p}"),
    ("person", "who to ask about {p}"),
    ("person", "{p} contact person"),
    ("file", "{p} spreadsheet"),
    ("file", "{p} slides"),
    ("wiki", "{p} wiki page"),
    ("wiki", "how does {p} work"),
    ("message", "slack thread about {p}"),
    ("message", "messages about {p}"),
    (None, "latest on {p}"),
    (None, "{p}"),
)
_TEMPLATE_RES = tuple(
    (intent, re.compile("^" + re.escape(pattern).replace(r"\{p\}", "(?P<p>.+?)") + "$"))
    for intent, pattern in QUERY_TEMPLATES
)


@dataclass(frozen=True)
class QuerySpec:
    """A query as a rater reads it: the text, its topic phrase and the kind of item wanted."""

    query: str
    phrase: str
    intent: str | None = None


@dataclass(frozen=True)
class Doc:
    """A document as a rater sees it."""

    doc_id: str
    title: str
    doc_type: str
    modified_at: datetime
    body: str

    @classmethod
    def from_fields(cls, *, title: str, doc_type: str, modified_at: Any, document: str, doc_id: str = "") -> Doc:
        """Build from row fields; ``modified_at`` may be an ISO string."""
        if isinstance(modified_at, str):
            try:
                modified_at = datetime.fromisoformat(modified_at)
            except ValueError as exc:
                raise InputError(f"modified_at must be an ISO timestamp, got {modified_at!r}") from exc
        return cls(doc_id=doc_id, title=title, doc_type=doc_type, modified_at=modified_at, body=document)


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", normalise_query(text)))


def tokens(text: str) -> list[str]:
    """Word tokens of the normalised text (NFKC, casefolded)."""
    return list(_tokens(text))


def lead(body: str) -> str:
    """The first sentence: text up to the first full stop that ends a sentence."""
    match = re.search(r"\.(\s|$)", body)
    return body[: match.start()] if match else body


def parse_query(query: str) -> QuerySpec:
    """Read the topic phrase and the wanted kind of item out of a query."""
    text = normalise_query(query)
    for intent, pattern in _TEMPLATE_RES:
        match = pattern.match(text)
        if match:
            return QuerySpec(query=query, phrase=match.group("p"), intent=intent)
    return QuerySpec(query=query, phrase=text, intent=None)  # only reached for an empty query


def is_evergreen(doc: Doc) -> bool:
    """People profiles, and documents whose title says policy or handbook, do not go stale."""
    return doc.doc_type == "person" or bool(EVERGREEN_TITLE_WORDS & set(tokens(doc.title)))


def _contains(seq: list[str], sub: list[str]) -> bool:
    n = len(sub)
    return n > 0 and any(seq[i : i + n] == sub for i in range(len(seq) - n + 1))


def topical_level(spec: QuerySpec, doc: Doc) -> int:
    """4 topic in title or first sentence, 3 topic elsewhere, 2 some topic words, 1 none."""
    phrase = tokens(spec.phrase)
    if _contains(tokens(doc.title), phrase) or _contains(tokens(lead(doc.body)), phrase):
        return 4
    body = tokens(doc.body)
    if _contains(body, phrase):
        return 3
    content = set(phrase) - STOPWORDS
    return 2 if content & (set(body) | set(tokens(doc.title))) else 1


# Rater phrasings, indexed by voice. None of them states a number: noisy ratings stay plausible.
_SAY = {
    "exact_title": (
        "Title is exactly what they searched for, top rating under the exact title rule.",
        "Exact title match, so it goes straight to the top.",
        "They typed this page's title word for word; exact title means best possible.",
    ),
    4: (
        "Squarely on topic: it is about {p}.",
        "Spot on topic: {p} is what the document is about.",
        "On topic, covers {p} from the first line.",
    ),
    3: (
        "Only mentions {p} in passing, so partly on topic.",
        "{p} comes up, but the main topic is something else.",
        "Touches on {p} further down; not the main topic.",
    ),
    2: (
        "Shares a word or two with the query but the topic is different.",
        "Some overlapping words, wrong topic.",
        "Word overlap only; the topic is not {p}.",
    ),
    1: (
        "Nothing here about {p}; off topic.",
        "Unrelated to {p}, a different topic entirely.",
        "Off topic for {p}.",
    ),
    "recency": (
        "Last edited {d}, over a year before I rated it, so one off for recency.",
        "Stale: untouched since {d}, recency rule takes a point.",
        "Older than a year ({d}); docked a point per the recency rule.",
    ),
    "evergreen": (
        "Old ({d}) but evergreen, so no recency penalty.",
        "Not updated since {d}, yet this kind of page stays valid; evergreen, no penalty.",
        "Age doesn't matter here, it's evergreen content.",
    ),
    "doc_type": (
        "They asked for a {want} and this is a {got}, so one off for doc type.",
        "Wrong kind of result ({got}, not a {want}); doc type rule takes a point.",
        "Query wants a {want}; a {got} loses a point for type.",
    ),
}
_ARTICLE_FREE = {"wiki": "wiki page", "person": "person profile"}


def _say(key: Any, voice: int, **values: str) -> str:
    options = _SAY[key]
    return options[voice % len(options)].format(**values)


def rate(
    spec: QuerySpec | str,
    doc: Doc,
    *,
    as_of: datetime,
    rules: tuple[str, ...] | frozenset[str] = RULE_IDS,
    voice: int = 0,
) -> tuple[int, str, tuple[str, ...]]:
    """Rate ``doc`` for ``spec`` by the guidelines: (rating, explanation, rule ids applied).

    ``rules`` switches guidelines off (a judge that ignores recency, say); "topical" and
    "clamp" always apply. ``voice`` picks one rater's phrasing of the same reasons.
    """
    if isinstance(spec, str):
        spec = parse_query(spec)
    unknown = set(rules) - set(RULE_IDS)
    if unknown:
        raise InputError(f"unknown rater rule ids {sorted(unknown)!r}; use some of {', '.join(RULE_IDS)}")
    if "exact_title" in rules and normalise_query(spec.query) == normalise_query(doc.title):
        return HIGHEST, _say("exact_title", voice), ("exact_title",)

    level = topical_level(spec, doc)
    rating, applied = level, ["topical"]
    reasons = [_say(level, voice, p=spec.phrase)]
    if "recency" in rules and as_of - doc.modified_at > STALE_AFTER:
        day = doc.modified_at.strftime("%b %Y")
        if "evergreen" in rules and is_evergreen(doc):
            applied.append("evergreen")
            reasons.append(_say("evergreen", voice, d=day))
        else:
            rating -= 1
            applied.append("recency")
            reasons.append(_say("recency", voice, d=day))
    if "doc_type" in rules and spec.intent and doc.doc_type != spec.intent:
        rating -= 1
        applied.append("doc_type")
        want = _ARTICLE_FREE.get(spec.intent, spec.intent)
        reasons.append(_say("doc_type", voice, want=want, got=_ARTICLE_FREE.get(doc.doc_type, doc.doc_type)))
    if rating < LOWEST:
        rating = LOWEST
        applied.append("clamp")
    return rating, " ".join(reasons), tuple(applied)


def rate_example(
    example: Any,
    *,
    as_of: datetime | None = None,
    rules: tuple[str, ...] | frozenset[str] = RULE_IDS,
) -> tuple[int, str, tuple[str, ...]]:
    """:func:`rate` for a ``judge.types.JudgeExample`` (it needs title, doc_type, modified_at).

    ``as_of`` defaults to the Monday that opens the example's week: a rater's exact moment is
    not kept on the example, so a document within days of the one-year mark may differ.
    """
    from judgeflow.weeks import week_bounds

    if as_of is None:
        if not example.week:
            raise InputError(f"example {example.id!r} has no week; pass as_of to rate it")
        as_of = week_bounds(example.week)[0]
    if not (example.title and example.doc_type and example.modified_at):
        raise InputError(f"example {example.id!r} lacks title, doc_type or modified_at; the rater rules need all three")
    doc = Doc.from_fields(title=example.title, doc_type=example.doc_type, modified_at=example.modified_at,
                          document=example.document, doc_id=example.doc_id or "")
    return rate(example.query, doc, as_of=as_of, rules=rules)
