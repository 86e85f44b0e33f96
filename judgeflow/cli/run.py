"""CLI commands: run (the weekly flow once), serve (local Prefect UI + deployments), quickstart."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import click

from judgeflow.cli import cli
from judgeflow.cli.options import json_option
from judgeflow.config import load_settings

OPTIMIZERS = click.Choice(["library", "bootstrap", "mipro", "gepa"])


def _lm_options(model: str | None, api_base: str | None):
    from flows.params import LMParams

    return LMParams(model=model, api_base=api_base) if model or api_base else None


@cli.command("run")
@click.option("--week", default=None, help="ISO week such as 2026-W47 (default: the last complete week).")
@click.option("--optimizer", type=OPTIMIZERS, default="library", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of <week>/annotations.* and production.* (default .judgeflow/inbox).")
@click.option("--budget-calls", type=int, default=300, show_default=True, help="LM call cap for the optimizer.")
@click.option("--dry-run", is_flag=True, help="Do everything except publish.")
@click.option("--require-approval", is_flag=True, help="Stage a promoted candidate and wait for approval in the UI.")
@click.option("--judge-model", default=None, help="litellm model string for the judge and reflection LMs.")
@click.option("--api-base", default=None, help="OpenAI-compatible base URL for --judge-model.")
@json_option
def run_command(week, optimizer, data_dir, budget_calls, dry_run, require_approval, judge_model, api_base, as_json):
    """Run the weekly flow once for one week, in this process."""
    from flows.runner import format_table, run_week, summary_row

    settings = load_settings()
    lm = _lm_options(judge_model, api_base)
    result = run_week(
        settings, week, optimizer=optimizer, data_dir=data_dir, dry_run=dry_run, require_approval=require_approval,
        budget_calls=budget_calls, judge_lm=lm, reflection_lm=lm,
    )
    if as_json:
        click.echo(json.dumps(summary_row(result), default=str))
        return
    click.echo(format_table([summary_row(result)]))
    click.echo(result["decision"]["reason"])


@cli.command("serve")
@click.option("--port", type=int, default=4200, show_default=True, help="Port of the local Prefect server.")
@click.option("--stop", is_flag=True, help="Stop a server and worker left running by `judgeflow quickstart`.")
def serve_command(port: int, stop: bool):
    """Start a local Prefect server with the deployments and a worker; Ctrl-C stops them."""
    from flows.local_server import stop_recorded

    settings = load_settings()
    if stop:
        click.echo(stop_recorded(settings) or "nothing recorded to stop")
        return
    local = _bring_up(settings, port)
    click.echo(f"Prefect UI: {local.ui_url} (deployments weekly-judge-refresh and rollback-judge; Ctrl-C to stop)")
    try:
        signal.signal(signal.SIGTERM, _interrupt)
        while all(p.poll() is None for p in local.processes):
            time.sleep(1.0)
        click.echo("a Prefect process exited; see the logs under " + str(local.home))
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _bring_up(settings, port: int):
    from flows.automations import ensure_crash_automation
    from flows.local_server import deploy, record, start_server, start_worker
    from tasks.alert import resolve_webhook_url

    local = start_server(settings, port)
    deploy(local, settings)
    start_worker(local, settings)
    record(local, settings)
    url = None
    from flows.runner import prefect_context

    with prefect_context(settings, local.api_url):
        url = resolve_webhook_url()
        if url:
            ensure_crash_automation(url)
    if not url:
        click.echo("No Slack webhook configured: crash alerts are off; other alerts print to the console.")
    return local


@cli.command("quickstart")
@click.option("--weeks", type=int, default=3, show_default=True, help="Sample weeks to generate and run.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--annotations-per-week", type=int, default=40, show_default=True)
@click.option("--optimizer", type=OPTIMIZERS, default="bootstrap", show_default=True,
              help="bootstrap by default: its labeled demos are what teach the base local model the JSON format.")
@click.option("--budget-calls", type=int, default=60, show_default=True,
              help="LM calls the optimizer may spend per week (the local model takes seconds a call).")
@click.option("--port", type=int, default=4200, show_default=True)
@click.option("--judge-model", default=None, help="Use this LM instead of the embedded Gemma model.")
@click.option("--api-base", default=None, help="OpenAI-compatible base URL for --judge-model.")
def quickstart_command(weeks, seed, annotations_per_week, optimizer, budget_calls, port, judge_model, api_base):
    """The main job: local model, sample weeks, local Prefect server, the weekly flow week by week."""
    from flows.runner import format_table, run_week, summary_row
    from judgeflow.sample_data import generate
    from judgeflow.weeks import last_complete_week

    settings = load_settings()
    lm = _lm_options(judge_model, api_base)
    if lm is None and settings.judge_lm.local:
        from judge.local_model import ensure_local_server

        click.echo("Preparing the embedded Gemma 3 270M judge (first run assembles about 253 MB)...")
        click.echo(f"Local model serving at {ensure_local_server(settings)}")
    inbox = Path(settings.home) / "inbox"
    end = last_complete_week(settings.timezone)
    files = generate(inbox, weeks=weeks, seed=seed, end_week=end, annotations_per_week=annotations_per_week,
                     production_per_week=200)
    names = sorted({p.parent.name for p in files})
    click.echo(f"Sample weeks {names[0]} .. {names[-1]} written to {inbox}")
    local = _bring_up(settings, port)
    click.echo(f"Prefect UI: {local.ui_url}")
    rows = []
    for week in names:
        click.echo(f"Running the weekly flow for {week} ...")
        result = run_week(settings, week, optimizer=optimizer, data_dir=str(inbox), budget_calls=budget_calls,
                          judge_lm=lm, reflection_lm=lm, api_url=local.api_url)
        rows.append(summary_row(result))
        click.echo(f"  {rows[-1]['reason']}")
    click.echo("")
    click.echo(format_table(rows))
    click.echo("")
    click.echo(f"Open the Prefect UI at {local.ui_url} to see the runs, the reports, the schedule and the Run form.")
    click.echo("The server and worker keep running; stop them with `judgeflow serve --stop`.")
