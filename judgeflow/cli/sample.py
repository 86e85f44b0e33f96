"""CLI commands: sample-data (import-trec lives in judgeflow/cli/trec.py)."""

from __future__ import annotations

import click

from judgeflow.cli import cli
from judgeflow.config import load_settings
from judgeflow.weeks import last_complete_week


@cli.command("sample-data")
@click.option("--weeks", type=int, default=4, show_default=True, help="How many consecutive ISO weeks to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and end week: byte-identical files.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="sample_data", show_default=True,
              help="Folder that receives one <YYYY-Www>/ subfolder per week.")
@click.option("--end-week", default=None, help="Last week written, like 2026-W47 (default: the last complete week).")
@click.option("--annotations-per-week", type=int, default=60, show_default=True, help="Annotation rows per week.")
@click.option("--production-per-week", type=int, default=600, show_default=True, help="Production rows per week.")
def sample_data_command(weeks, seed, out_dir, end_week, annotations_per_week, production_per_week) -> None:
    """Write synthetic enterprise-search annotations (JSONL) and production samples (Parquet)."""
    from judgeflow.sample_data import generate

    end_week = end_week or last_complete_week(load_settings().timezone)
    written = generate(
        out_dir,
        weeks=weeks,
        seed=seed,
        end_week=end_week,
        annotations_per_week=annotations_per_week,
        production_per_week=production_per_week,
    )
    for path in written:
        click.echo(str(path))
