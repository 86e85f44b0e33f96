"""CLI commands: history, rollback."""

from __future__ import annotations

import json
import sys

import click

from judgeflow.cli import cli
from judgeflow.cli.options import json_option
from judgeflow.config import load_settings

artifacts_option = click.option(
    "--artifacts",
    "artifacts_url",
    default=None,
    help="Artifact store folder or fsspec URL (default .judgeflow/artifacts; env JUDGEFLOW_ARTIFACTS).",
)


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


@cli.command()
@artifacts_option
@json_option
def history(artifacts_url: str | None, as_json: bool) -> None:
    """List published versions with week, status, NMSE and parse rate; * marks the champion."""
    from tasks.artifacts import ArtifactStore
    from tasks.champion import list_versions

    store = ArtifactStore(load_settings(artifacts_url=artifacts_url).artifacts)
    versions = list_versions(store)
    if as_json:
        click.echo(json.dumps({"store": store.url, "versions": [v.model_dump() for v in versions]}, indent=2))
        return
    if not versions:
        click.echo(f"no versions published in {store.url} yet")
        return
    click.echo(f"{'':2}{'version':8}  {'week':8}  {'status':9}  {'NMSE':>6}  {'parse':>6}  created")
    for v in versions:
        status = v.status if v.approved is None else ("approved" if v.approved else "rejected")
        click.echo(
            f"{'*' if v.champion else ' ':2}{v.version:8}  {v.week:8}  {status:9}  "
            f"{_fmt(v.nmse, '{:.2f}'):>6}  {_fmt(None if v.parse_rate is None else 100 * v.parse_rate, '{:.1f}%'):>6}  "
            f"{v.created_at}"
        )


@cli.command()
@click.option(
    "--to",
    "to",
    default=None,
    help="Version to make champion, e.g. v0003 (default: the previous champion).",
)
@click.option(
    "--reason",
    default="manual rollback",
    show_default=True,
    help="Why; recorded in history and the alert.",
)
@artifacts_option
@json_option
def rollback(to: str | None, reason: str, artifacts_url: str | None, as_json: bool) -> None:
    """Move the champion pointer back and send the rollback alert."""
    from tasks.alert import ConsoleNotifier, get_notifier, rollback_message, send_alert
    from tasks.artifacts import ArtifactStore
    from tasks.champion import read_pointer
    from tasks.champion import rollback as do_rollback

    store = ArtifactStore(load_settings(artifacts_url=artifacts_url).artifacts)
    before = read_pointer(store)
    info = do_rollback(store, to=to, reason=reason)
    from_version = before["version"] if before else None
    if as_json:
        click.echo(json.dumps({"from": from_version, "champion": info.model_dump(), "reason": reason}, indent=2))
    else:
        click.echo(f"champion rolled back from {from_version} to {info.version} (week {info.week}): {reason}")
    message = rollback_message(
        from_version,
        info.version,
        reason,
        week=info.week,
        nmse=info.nmse,
        parse_rate=info.parse_rate,
    )
    notifier = get_notifier()
    if isinstance(notifier, ConsoleNotifier):
        notifier.stream = sys.stderr  # keep stdout clean for --json
    send_alert(message, notifier)
