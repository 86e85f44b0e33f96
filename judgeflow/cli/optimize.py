"""CLI commands: optimize."""

from __future__ import annotations

import json
from typing import Any

import click

from judgeflow.cli import cli
from judgeflow.cli.options import db_option, json_option, scale_option
from judgeflow.config import load_settings


def _reflection_cfg(settings: Any, model: str | None, api_base: str | None) -> Any:
    from judge.local_model import with_local_endpoint

    cfg = settings.reflection_lm
    updates: dict[str, Any] = {}
    if model:
        updates.update(model=model, local=False, api_base=None)
    if api_base:
        updates.update(api_base=api_base, local=False)
    return with_local_endpoint(settings, cfg.model_copy(update=updates) if updates else cfg)


def _print_result(payload: dict[str, Any]) -> None:
    before, after = payload["dev_before"], payload["dev_after"]
    click.echo(f"optimizer   {payload['optimizer']} on {payload['week']} (stopped: {payload['stopped']})")
    click.echo(f"candidate   {payload['candidate_hash'][:12]} ({'changed' if payload['changed'] else 'same as champion'})")
    click.echo(f"saved to    {payload['path']}")
    calls = payload["calls"]
    roles = ", ".join(f"{role} {u['calls']}" for role, u in calls["by_role"].items()) or "none"
    click.echo(f"LM calls    {calls['used']} of {calls['budget']} ({roles}); dev scoring {calls['dev_evaluation_calls']}")
    click.echo(f"rejected    {payload['guardrail_rejections']} proposal(s) by the guardrails")
    if payload["chosen_bullets"]:
        click.echo(f"rules       {', '.join(payload['chosen_bullets'])}")
    click.echo("")
    click.echo("dev metric   champion   candidate")
    for key in ("nmse", "parse_rate", "mae", "exact", "qwk"):
        if key in before or key in after:
            click.echo(f"{key:<12} {_fmt(before.get(key)):>9}   {_fmt(after.get(key)):>9}")
    click.echo("")
    click.echo("never promoted: the weekly gate decides on the test split")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@cli.command("optimize")
@click.option("--week", required=True, help="ISO week whose train/dev splits to use, e.g. 2026-W47.")
@click.option(
    "--optimizer", type=click.Choice(["gepa", "mipro", "bootstrap", "library"]), default="library", show_default=True
)
@click.option("--budget-calls", type=int, default=300, show_default=True, help="Hard cap on LM calls (judge + reflection).")
@click.option("--budget-cost", type=float, default=None, help="Stop at this estimated USD cost where prices are known.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--program", "program_spec", default="champion", show_default=True, help="champion or a saved program file.")
@click.option("--library", "library_path", default=None, help="Instruction library JSONL (default: the shipped one).")
@click.option("--auto", "mipro_auto", type=click.Choice(["light", "medium", "heavy"]), default="light", show_default=True)
@click.option("--tolerance", type=int, default=0, show_default=True, help="Demo ratings must be this close to gold.")
@click.option("--lm", "model", default=None, help="Judge LM (any litellm model string).")
@click.option("--api-base", default=None, help="Base URL of an OpenAI-compatible judge endpoint.")
@click.option("--reflection-lm", default=None, help="Reflection/prompt LM for GEPA and MIPROv2.")
@click.option("--reflection-api-base", default=None)
@db_option
@scale_option
@json_option
def optimize_command(
    week: str, optimizer: str, budget_calls: int, budget_cost: float | None, seed: int, program_spec: str,
    library_path: str | None, mipro_auto: str, tolerance: int, model: str | None, api_base: str | None,
    reflection_lm: str | None, reflection_api_base: str | None, db_path: str | None, scale: str | None,
    as_json: bool,
) -> None:
    """Propose a candidate judge from the train split (dev for selection); never promotes."""
    from judgeflow.cli.evaluate import resolve_lm, resolve_program
    from judgeflow.weeks import parse_week
    from tasks.optimize import optimize_week
    from tasks.optimizers.context import OptimizeSettings

    week = parse_week(week)  # before anything starts the local model
    settings = load_settings(db_path=db_path, scale=scale)
    knobs = OptimizeSettings(
        optimizer=optimizer, budget_calls=budget_calls, budget_cost=budget_cost, seed=seed,
        library_path=library_path, mipro_auto=mipro_auto, tolerance=tolerance,
    )
    champion, _source, note = resolve_program(program_spec, settings)
    if note and not as_json:
        click.echo(f"note: {note}")
    result = optimize_week(
        settings, week, knobs, champion=champion,
        judge_cfg=resolve_lm(settings, model, api_base),
        reflection_cfg=_reflection_cfg(settings, reflection_lm, reflection_api_base),
    )
    payload = result.to_dict()
    if as_json:
        click.echo(json.dumps(payload, default=str))
    else:
        _print_result(payload)
