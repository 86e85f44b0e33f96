"""Options shared by several commands."""

from __future__ import annotations

import click

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="DuckDB file (default .judgeflow/judgeflow.duckdb; env JUDGEFLOW_DB).",
)
scale_option = click.option(
    "--scale",
    default=None,
    help="Rating scale such as 1-5 or 0-3 (default from judgeflow.toml or 1-5; env JUDGEFLOW_SCALE).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
