"""CLI commands: import-trec (TREC qrels as annotations) and calibrate (fit on train, show dev)."""

from __future__ import annotations

import json

import click

from judgeflow.cli import cli
from judgeflow.cli.options import db_option, json_option
from judgeflow.config import load_settings


def _print_import(summary: dict) -> None:
    trec = summary.get("trec", {})
    ann = summary.get("annotations") or {}
    click.echo(f"week {summary.get('week')}  scale {trec.get('scale')}  qrels {trec.get('qrels')}")
    click.echo(f"  qrels lines      {trec.get('lines', 0)}")
    click.echo(f"  read             {ann.get('read', 0)}")
    click.echo(f"  ingested         {ann.get('ingested', 0)}")
    click.echo(f"  quarantined      {ann.get('quarantined', 0)}")
    for code, count in sorted((ann.get("reasons") or {}).items()):
        click.echo(f"    {code:<22} {count}")
    if trec.get("reasons"):
        click.echo("  TREC-level problems (also quarantined): " + ", ".join(f"{k} {v}" for k, v in sorted(trec["reasons"].items())))
    ok = ann.get("ingested", 0) + ann.get("quarantined", 0) == ann.get("read", 0)
    click.echo(f"  ingested + quarantined = read: {'yes' if ok else 'NO'}")


@cli.command("import-trec")
@click.option("--qrels", required=True, type=click.Path(exists=True, dir_okay=False), help="qrels file: 'qid 0 docid grade' lines.")
@click.option("--queries", required=True, type=click.Path(exists=True, dir_okay=False), help="queries TSV: qid<TAB>text.")
@click.option("--docs", required=True, type=click.Path(exists=True, dir_okay=False), help="passages: JSONL {id, text} or TSV pid<TAB>text.")
@click.option("--week", required=True, help="ISO week the labels belong to, e.g. 2026-W47.")
@click.option("--scale", default=None, help="Rating scale of the grades, e.g. 0-3 (default: the project scale).")
@db_option
@json_option
def import_trec_command(qrels, queries, docs, week, scale, db_path, as_json) -> None:
    """Import TREC qrels, queries and passages as one week's annotations."""
    from tasks.trec import import_trec

    settings = load_settings(db_path=db_path)
    summary = import_trec(settings.database, week, qrels=qrels, queries=queries, docs=docs, scale=scale, settings=settings)
    if as_json:
        click.echo(json.dumps(summary, default=str))
        return
    _print_import(summary)
    project = load_settings().scale
    if scale and str(project) != summary["trec"]["scale"]:
        click.echo(
            f"note: the project scale is {project}; set scale = \"{summary['trec']['scale']}\" in "
            "judgeflow.toml (or JUDGEFLOW_SCALE) so evaluation, optimization and the gate use it"
        )


@cli.command("calibrate")
@click.option("--week", required=True, help="ISO week whose train split is fitted and dev split measured.")
@click.option("--program", default="champion", show_default=True, help="champion or a saved program.json path.")
@click.option("--mode", type=click.Choice(["integer", "continuous"]), default="integer", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Where to write the calibrator JSON.")
@db_option
@json_option
def calibrate_command(week, program, mode, out, db_path, as_json) -> None:
    """Fit a monotone calibrator on train and show the dev metrics before and after."""
    from tasks.calibrate import calibrate_week

    settings = load_settings(db_path=db_path)
    result = calibrate_week(settings.database, week, program=program, settings=settings, mode=mode, out=out)
    data = result.to_dict()
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    click.echo(f"calibrator {data['calibrator_version']} fitted on {data['n_train']} train rows -> {data['path']}")
    click.echo(f"{'dev metric':<12} {'before':>10} {'after':>10}")
    for key in ("nmse", "parse_rate", "mae", "kappa", "qwk", "pearson"):
        before, after = data["dev_before"].get(key), data["dev_after"].get(key)
        click.echo(f"{key:<12} {_fmt(before):>10} {_fmt(after):>10}")


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
