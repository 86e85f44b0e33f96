"""CLI commands: ingest."""

from __future__ import annotations

import json
from typing import Any

import click

from judgeflow.cli import cli
from judgeflow.cli.options import db_option, json_option, scale_option
from judgeflow.config import load_settings
from judgeflow.errors import InputError
from judgeflow.weeks import last_complete_week


def parse_field_map(pairs: tuple[str, ...]) -> dict[str, str]:
    """('rating=label', ...) -> {'rating': 'label'}; InputError on a pair without '='."""
    mapping = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise InputError(f"--field-map takes target=column like rating=label, got {pair!r}")
        mapping[target.strip()] = column.strip()
    return mapping


def render_summary(summary: dict[str, Any]) -> str:
    """A small table per source: read / ingested / quarantined, reasons, and the invariant."""
    lines = [f"week {summary['week']}"]
    for source in ("annotations", "production"):
        counts = summary[source]
        status = summary.get("runs", {}).get(source, {}).get("status", "not given")
        lines.append(f"\n{source} ({status})")
        for key in ("read", "ingested", "quarantined"):
            lines.append(f"  {key:<12}{counts[key]:>10,}")
        for code, n in counts["reasons"].items():
            lines.append(f"    {code:<24}{n:>8,}")
        ok = counts["ingested"] + counts["quarantined"] == counts["read"]
        lines.append(f"  ingested + quarantined = read: {'yes' if ok else 'NO'}")
    for source, results in summary.get("validation", {}).items():
        passed = sum(r["success"] for r in results)
        lines.append(f"\nvalidation {source}: {passed}/{len(results)} expectations met")
        for r in results:
            if not r["success"]:
                lines.append(f"  FAILED {r['expectation']} (unexpected {r['unexpected_count']})")
    return "\n".join(lines)


@cli.command("ingest")
@click.option("--week", default=None, help="ISO week like 2026-W47 (default: the last complete week).")
@click.option("--annotations", default=None, help="File, folder or fsspec URL of rated rows.")
@click.option("--production", default=None, help="File, folder or fsspec URL of production samples.")
@click.option("--field-map", "field_map", multiple=True, metavar="FIELD=COLUMN",
              help="Read a field from another source column, e.g. --field-map rating=label (repeatable).")
@db_option
@scale_option
@json_option
def ingest_command(week, annotations, production, field_map, db_path, scale, as_json) -> None:
    """Ingest one week's annotation and production files, checked and validated."""
    from tasks.ingest import ingest_week

    settings = load_settings(db_path=db_path, scale=scale)
    week = week or last_complete_week(settings.timezone)
    summary = ingest_week(
        settings.database,
        week,
        annotations=annotations,
        production=production,
        settings=settings,
        field_map=parse_field_map(field_map),
    )
    if as_json:
        click.echo(json.dumps(summary, default=str))
    else:
        click.echo(render_summary(summary))
