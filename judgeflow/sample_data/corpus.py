"""The synthetic enterprise: topics, people, documents and the stable query pool.

Documents are built so the rater rules have something to bite on: every document's title and
first sentence name its own topic, some mention another topic further down, topics share
words ("vpn access" / "badge access") for partial overlap, and filler text never contains a
topic or title word (tests check it), so topical overlap is exactly what the generator meant.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from judgeflow.sample_data.rules import QUERY_TEMPLATES, Doc

# (topic phrase, team): phrases share words on purpose (access, policy, review, outage, ...).
TOPICS: tuple[tuple[str, str], ...] = (
    ("vpn access", "it"), ("badge access", "it"), ("laptop refresh", "it"),
    ("password reset", "it"), ("printer setup", "it"), ("wifi outage", "it"),
    ("mobile device management", "it"), ("security policy", "security"),
    ("data retention policy", "security"), ("privacy review", "legal"),
    ("vendor contract", "legal"), ("soc2 audit", "security"), ("parental leave", "people"),
    ("employee handbook", "people"), ("performance review", "people"),
    ("onboarding checklist", "people"), ("holiday calendar", "people"),
    ("benefits enrollment", "people"), ("remote work policy", "people"),
    ("travel policy", "finance"), ("expense reimbursement", "finance"),
    ("budget planning", "finance"), ("invoice approval", "finance"),
    ("payroll schedule", "finance"), ("kubernetes upgrade", "platform"),
    ("payments outage", "platform"), ("release process", "platform"),
    ("api rate limits", "platform"), ("database migration", "platform"),
    ("incident postmortem", "platform"), ("code review", "platform"),
    ("oncall rotation", "platform"), ("search latency", "platform"),
    ("feature flags", "platform"), ("quarterly forecast", "sales"),
    ("pricing page", "marketing"), ("customer renewal", "sales"),
    ("sales playbook", "sales"), ("partner program", "sales"),
    ("brand guidelines", "marketing"), ("product launch", "marketing"),
    ("webinar schedule", "marketing"), ("customer churn", "sales"),
)

PEOPLE: tuple[str, ...] = (
    "Dana Kim", "Ravi Patel", "Sofia Rossi", "Tom Becker", "Amara Okafor", "Lena Novak",
    "Jonas Berg", "Mei Lin", "Carlos Mendes", "Priya Nair", "Hugo Laurent", "Yuki Tanaka",
    "Fatima Haddad", "Noah Fischer", "Elena Petrova", "Omar Aziz", "Grace Mensah",
    "Ivan Horvat", "Sara Lindqvist", "Mateo Garcia", "Aisha Bello", "Leo Moreau",
)
ROLES = ("Staff Engineer", "Program Manager", "Team Lead", "Analyst", "Director", "Specialist")
TICKET_KEYS = {"it": "IT", "security": "SEC", "legal": "LEG", "people": "HR", "finance": "FIN",
               "platform": "ENG", "sales": "SAL", "marketing": "MKT"}

# Titles and first sentences by document type; {P} title-cased phrase, {p} lower case.
TITLES = {
    "wiki": ("{P}", "{P} FAQ", "{P} Runbook"),
    "file": ("{P} tracker.xlsx", "{P} notes.docx", "{P} deck.pdf"),
    "ticket": ("{K}-{n}: {P} broken", "{K}-{n}: follow-up on {P}"),
    "message": ("Re: {P}", "#{team}-help: question on {P}"),
}
LEADS = {
    "wiki": ("This article describes {p} for everyone at Northwind.", "Everything we know about {p}, kept current by the {team} team."),
    "file": ("Working document for {p}, owned by the {team} team.", "Figures and comments on {p} collected by {team}."),
    "ticket": ("Reported problem with {p}: several people hit errors since Monday.", "Next steps for {p} after the last sync."),
    "message": ("Does anyone know the current state of {p}?", "Quick check about {p} before the Thursday meeting."),
}
MENTION = ("See also the material on {m}.", "This also touches {m}.", "Related: {m}.")
FILLER = (
    "Last updated after the Monday sync.",
    "Owners rotate every quarter, so ask in the channel if something looks wrong.",
    "Numbers below are estimates and will change before month end.",
    "Please keep comments short and link to the source when you can.",
    "The steps differ slightly between offices; check with your local lead.",
    "Most questions are answered in the thread pinned at the top.",
    "A summary goes out by email every Friday afternoon.",
    "If this is urgent, call whoever is listed as primary this week.",
    "Drafts live in the shared folder until they are signed off.",
    "We agreed to revisit this once the new tooling lands.",
    "Two teams depend on this, so announce changes a week ahead.",
    "The numbers exclude contractors and interns.",
    "Screenshots were taken on the old interface and may look different now.",
    "Nothing here is confidential, but do not forward it outside the company.",
    "Add your name to the list below if you want to join.",
    "The previous version is archived and linked at the bottom.",
    "Thanks to everyone who reviewed the first draft.",
    "Questions about exceptions go to the team alias.",
    "Timelines assume no holidays in between.",
    "Bring examples to the next sync so we can decide quickly.",
    "Costs are shown in euros and rounded to the nearest hundred.",
    "Open questions are tracked at the end of this section.",
    "Some links point to systems that need the corporate network.",
    "Feedback so far has been positive, with a few concerns about timing.",
)


@dataclass(frozen=True)
class CorpusDoc:
    """A document plus what the generator knows about it (the rater never sees these)."""

    doc: Doc
    topics: tuple[str, ...]  # its own topic phrase(s), the ones in title or first sentence
    mentions: tuple[str, ...]  # phrases mentioned further down


def stable_id(*parts: object, prefix: str = "", length: int = 12) -> str:
    """A short hex id from the parts, stable across runs and platforms."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return prefix + digest[:length]


def _body(rng: random.Random, first: str, mention: str | None, long: bool) -> str:
    count = rng.randint(40, 60) if long else rng.randint(3, 7)
    sentences = [first, *(rng.choice(FILLER) for _ in range(count))]
    if mention:
        sentences.insert(rng.randint(2, len(sentences)), mention)
    body = " ".join(sentences)
    while len(body) > 3000:
        body = body[: body.rindex(" ", 0, 3000)].rsplit(". ", 1)[0] + "."
    return body


def _age(rng: random.Random) -> timedelta:
    days = rng.uniform(3, 300) if rng.random() < 0.7 else rng.uniform(420, 1400)
    return timedelta(seconds=int(days * 86400))


def build_corpus(seed: int, anchor: datetime) -> list[CorpusDoc]:
    """Every document of the enterprise; modification times lie before ``anchor``."""
    rng = random.Random(f"{seed}:corpus")
    phrases = [p for p, _ in TOPICS]
    docs: list[CorpusDoc] = []
    for phrase, team in TOPICS:
        for doc_type in ("wiki", "file", "ticket", "message"):
            for variant in range(2):
                title = rng.choice(TITLES[doc_type]).format(
                    P=phrase.title(), p=phrase, K=TICKET_KEYS[team], n=rng.randint(100, 9999), team=team
                )
                first = LEADS[doc_type][variant].format(p=phrase, team=team)
                other = rng.choice([p for p in phrases if p != phrase]) if rng.random() < 0.35 else None
                mention = rng.choice(MENTION).format(m=other) if other else None
                body = _body(rng, first, mention, long=rng.random() < 0.05)
                doc_id = stable_id(seed, title, doc_type, variant, prefix=f"{doc_type}-", length=8)
                doc = Doc(doc_id, title, doc_type, anchor - _age(rng), body)
                docs.append(CorpusDoc(doc, (phrase,), (other,) if other else ()))
    owners = phrases * 2
    rng.shuffle(owners)
    for i, name in enumerate(PEOPLE):
        owned = tuple(dict.fromkeys(owners[2 * i : 2 * i + 2] or rng.sample(phrases, 2)))
        team = dict(TOPICS)[owned[0]]
        first = f"Owns {' and '.join(owned)}"
        body = _body(rng, f"{first}.", f"{rng.choice(ROLES)} on the {team} team.", long=False)
        doc = Doc(stable_id(seed, name, prefix="person-", length=8), name, "person", anchor - _age(rng), body)
        docs.append(CorpusDoc(doc, owned, ()))
    return docs


@dataclass(frozen=True)
class PoolQuery:
    """A query the generator can ask, with the topic it is about (and a title's doc id)."""

    query: str
    topic: str
    target_doc_id: str | None = None
    intent: str | None = None


def all_queries(corpus: list[CorpusDoc]) -> list[PoolQuery]:
    """Every query the setting can produce: topic x template, and wiki/file titles."""
    found = [
        PoolQuery(pattern.format(p=phrase), phrase, intent=intent)
        for phrase, _ in TOPICS
        for intent, pattern in QUERY_TEMPLATES
    ]
    found += [
        PoolQuery(c.doc.title, c.topics[0], c.doc.doc_id)
        for c in corpus
        if c.doc.doc_type in ("wiki", "file")
    ]
    return found


def query_pool(seed: int, corpus: list[CorpusDoc], size: int = 120) -> tuple[list[PoolQuery], list[PoolQuery]]:
    """(the stable pool reused every week, the rest that weeks draw new queries from)."""
    rng = random.Random(f"{seed}:pool")
    candidates = all_queries(corpus)
    titles = [q for q in candidates if q.target_doc_id]
    typed = [q for q in candidates if q.intent]
    bare = [q for q in candidates if not q.target_doc_id and not q.intent]
    n_titles, n_bare = size // 8, size // 3
    pool = rng.sample(bare, n_bare) + rng.sample(typed, size - n_titles - n_bare) + rng.sample(titles, n_titles)
    chosen = {q.query for q in pool}
    return pool, [q for q in candidates if q.query not in chosen]
