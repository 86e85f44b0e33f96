"""Sample data: weekly annotation and production files for an enterprise-search judge.

The setting: people search Northwind's files, chat messages, wiki pages, tickets and people
profiles. Raters label (query, document) pairs on a 1-5 scale by these written guidelines
(docs/RATER_GUIDELINES.md is the copy raters read; ``rules.RULES`` is the same as data and
``rules.rate`` applies it):

1. exact_title - the query is exactly the document's title (ignoring case and spacing): 5,
   whatever else is true.
2. topical - otherwise start from topical overlap with the query's topic phrase: in the
   title or the first sentence 4; only further down the text 3; some of its words but not
   the topic 2; none of it 1.
3. recency - a document last modified more than a year before the rating loses a point...
4. evergreen - ...unless it is evergreen: a people profile, or a title saying policy,
   policies or handbook.
5. doc_type - a query that asks for a kind of item ("ticket about X", "who owns X" ->
   person, "X spreadsheet"/"X slides" -> file, "X wiki page", "slack thread about X" ->
   message) loses a point for a document of another kind.
6. clamp - the result stays within 1-5.

Raters write a short explanation naming the rule that decided. About 15% of ratings are one
step off the rules (rater noise), said with a hedge in the explanation. About 2% of each
week's rows are deliberately broken (rating 6, rating "five", empty document, missing query,
duplicate id, created_at outside the week), always below the 5% quarantine threshold.
Production rows carry the production judge's raw answer, which ignores recency and is
sometimes malformed. Same seed and end week: byte-identical files.
"""

from judgeflow.sample_data.generate import RATERS, generate
from judgeflow.sample_data.rules import (
    RULE_IDS,
    RULES,
    Doc,
    QuerySpec,
    parse_query,
    rate,
    rate_example,
)

__all__ = ["RATERS", "RULES", "RULE_IDS", "Doc", "QuerySpec", "generate", "parse_query", "rate", "rate_example"]
