"""The run's report: a markdown document for the version folder and the Prefect UI.

Sections: the decision, champion vs candidate metrics, confusion matrices, the gate's checks,
the chosen library bullets, the instruction diff against the champion, top disagreements.
Prefect artifacts: ``judge-report`` (markdown) and ``published-version`` (a link).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

METRIC_ROWS = (("nmse", "NMSE (0-100)"), ("parse_rate", "parse rate"), ("mae", "MAE"), ("exact", "exact agreement"),
               ("within1", "within 1"), ("kappa", "Cohen's kappa"), ("qwk", "QWK"), ("spearman", "Spearman"), ("n", "examples"))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def instruction_of(path: str | Path) -> str:
    """The judge instruction stored in a program file (state-only DSPy JSON)."""
    state = json.loads(Path(path).read_text(encoding="utf-8"))
    for key, value in state.items():
        if isinstance(value, dict) and isinstance(value.get("signature"), dict):
            return str(value["signature"].get("instructions", ""))
        if key == "signature" and isinstance(value, dict):
            return str(value.get("instructions", ""))
    return ""


def instruction_diff(champion_path: str | Path, candidate_path: str | Path) -> str:
    old, new = instruction_of(champion_path), instruction_of(candidate_path)
    if old == new:
        return "The candidate's instruction is the champion's, unchanged."
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "champion", "candidate", lineterm="")
    return "```diff\n" + "\n".join(lines) + "\n```"


def metrics_table(champion: dict[str, Any], candidate: dict[str, Any] | None) -> str:
    candidate = candidate or {}
    rows = ["| metric | champion | candidate |", "|---|---|---|"]
    rows += [f"| {label} | {_fmt(champion.get(key))} | {_fmt(candidate.get(key))} |" for key, label in METRIC_ROWS]
    return "\n".join(rows)


def confusion_table(title: str, confusion: dict[str, dict[str, int]] | None) -> str:
    if not confusion:
        return f"**{title}**: no predictions."
    preds = sorted({p for row in confusion.values() for p in row}, key=lambda p: (p == "unparsed", p))
    rows = [f"**{title}** (rows: human rating, columns: judge)", "", "| gold \\ judge | " + " | ".join(preds) + " |",
            "|---|" + "---|" * len(preds)]
    rows += [f"| {gold} | " + " | ".join(str(row.get(p, 0)) for p in preds) + " |" for gold, row in confusion.items()]
    return "\n".join(rows)


def checks_table(decision: dict[str, Any]) -> str:
    rows = ["| check | value | threshold | passed | enforced |", "|---|---|---|---|---|"]
    for check in decision.get("checks", []):
        rows.append(f"| {check['name']} | {_fmt(check.get('value'))} | {_fmt(check.get('threshold'))} | "
                    f"{'yes' if check['passed'] else 'no'} | {'yes' if check.get('enforced', True) else 'no'} |")
    return "\n".join(rows)


def bullets_section(optimization: dict[str, Any]) -> str:
    chosen = optimization.get("chosen_bullets") or optimization.get("bullets") or []
    if not chosen:
        return "No library bullets chosen (optimizer: {}).".format(optimization.get("optimizer", "n/a"))
    lines = []
    for bullet in chosen:
        if isinstance(bullet, dict):
            lines.append(f"- `{bullet.get('id', '?')}` {bullet.get('text', '')}")
        else:
            lines.append(f"- `{bullet}`")
    return "\n".join(lines)


def build_report(
    week: str, *, champion: dict[str, Any], candidate: dict[str, Any], decision: dict[str, Any],
    champion_eval: dict[str, Any], candidate_eval: dict[str, Any] | None, optimization: dict[str, Any],
) -> str:
    """The full markdown report of one weekly run."""
    cand_metrics = candidate_eval["metrics"] if candidate_eval else None
    champ_name = champion["version"] or "baseline"
    parts = [
        f"# Judge report {week}",
        "",
        f"**Decision**: {decision['reason']}",
        "",
        f"Champion {champ_name} (sha256 {champion['sha256'][:12]}) vs candidate from `{optimization.get('optimizer', 'n/a')}` "
        f"(sha256 {candidate['sha256'][:12]}), both scored on the same {decision.get('n', 'n/a')} test examples "
        "in this run with the same judge LM.",
        "",
        "## Metrics",
        "",
        metrics_table(champion_eval["metrics"], cand_metrics),
        "",
        "## Gate checks",
        "",
        checks_table(decision),
        "",
        "## Confusion matrices",
        "",
        confusion_table("Champion", champion_eval["metrics"].get("confusion")),
        "",
        confusion_table("Candidate", (cand_metrics or {}).get("confusion")),
        "",
        "## Chosen library bullets",
        "",
        bullets_section(optimization),
        "",
        "## Instruction diff against the champion",
        "",
        instruction_diff(champion["path"], candidate["path"]),
        "",
        (candidate_eval or champion_eval).get("disagreements_md", ""),
    ]
    return "\n".join(parts)


def publish_artifacts(week: str, report_md: str, published: dict[str, Any]) -> dict[str, Any]:
    """The markdown report and a link to the published version, as Prefect artifacts."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    create_markdown_artifact(key="judge-report", markdown=report_md, description=f"Judge report for {week}")
    shown = published.get("candidate") or published.get("baseline")
    if shown:
        url = str(shown["url"])
        create_link_artifact(
            key="published-version",
            link=url if "://" in url else Path(url).resolve().as_uri(),
            link_text=f"{shown['version']} ({shown['status']})",
            description=f"Version published for {week}; champion is now {published.get('champion_version')}",
        )
    return {"report_chars": len(report_md), "linked": shown["version"] if shown else None}
