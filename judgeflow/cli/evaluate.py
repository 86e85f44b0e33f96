"""CLI commands: evaluate, lm prepare, lm serve."""

from __future__ import annotations

import json
import threading
from typing import Any

import click

from judgeflow.cli import cli
from judgeflow.cli.options import db_option, json_option, scale_option
from judgeflow.config import LMConfig, Settings, load_settings

HEADLINE = ("n", "nmse", "parse_rate", "mae", "exact", "within1", "kappa", "qwk", "pearson", "spearman")


def resolve_program(spec: str, settings: Settings) -> tuple[Any, str, str]:
    """(program, source, note) for "champion" or a saved program path.

    Without a published champion (or before publishing exists) the baseline judge stands in,
    and the note says so.
    """
    from judge.program import RelevanceJudge
    from judge.saving import load_program

    if spec != "champion":
        return load_program(spec, settings.scale), spec, ""
    try:
        from tasks.champion import load_champion
    except ImportError:
        return RelevanceJudge(scale=settings.scale), "baseline", "publishing is not available; evaluated the baseline judge"
    found = load_champion(settings)
    if found is None:
        return RelevanceJudge(scale=settings.scale), "baseline", "no champion published yet; evaluated the baseline judge"
    program, manifest = found if isinstance(found, tuple) else (found, {})
    return program, f"champion {manifest.get('version', '')}".strip(), ""


def resolve_lm(settings: Settings, model: str | None, api_base: str | None, constrained_json: bool = False) -> LMConfig:
    """The judge LM from settings, overridden by --lm / --api-base / --constrained-json; the local model started if needed."""
    from judge.local_model import with_local_endpoint

    cfg = settings.judge_lm
    updates: dict[str, Any] = {}
    if model:
        updates.update(model=model, local=False, api_base=None)
    if api_base:
        updates.update(api_base=api_base, local=False)
    if constrained_json:
        updates.update(constrained_json=True)
    if updates:
        cfg = cfg.model_copy(update=updates)
    return with_local_endpoint(settings, cfg)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_table(payload: dict[str, Any]) -> None:
    if payload["note"]:
        click.echo(f"note: {payload['note']}")
    click.echo(f"program   {payload['program']} ({payload['program_hash'][:12]})")
    click.echo(f"split     {payload['split']} up to {payload['week']}")
    click.echo(f"lm        {payload['lm']['model']} at {payload['lm']['api_base'] or 'provider default'}")
    click.echo(
        f"examples  {payload['n']}  (lm_errors {payload['n_lm_errors']}, LM calls {payload['calls']}, "
        f"cached {payload['cache_hits']}, {payload['seconds']:.1f} s)"
    )
    metrics = payload["metrics"]
    keys = [k for k in HEADLINE if k in metrics] + sorted(
        k for k, v in metrics.items() if k not in HEADLINE and isinstance(v, int | float)
    )
    width = max((len(k) for k in keys), default=0)
    click.echo("")
    click.echo(f"{'metric'.ljust(width)}  value")
    for key in keys:
        click.echo(f"{key.ljust(width)}  {_format(metrics[key])}")


@cli.command("evaluate")
@click.option("--program", "program_spec", default="champion", show_default=True, help="'champion' or a saved program.json.")
@click.option("--split", type=click.Choice(["train", "dev", "test"]), default="test", show_default=True)
@click.option("--week", required=True, help="ISO week: examples of weeks up to this one, e.g. 2026-W47.")
@click.option("--lm", "model", default=None, help="litellm model string, e.g. openai/gpt-4o-mini (default: settings).")
@click.option("--api-base", default=None, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Concurrent LM calls (default: settings).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Evaluate at most this many examples.")
@click.option("--no-cache", is_flag=True, help="Call the LM even for cached predictions.")
@click.option("--constrained-json", is_flag=True,
              help="Send the answer's JSON schema as response_format (constrained decoding; format failures are then not measured).")
@scale_option
@db_option
@json_option
def evaluate_command(program_spec, split, week, model, api_base, concurrency, limit, no_cache, constrained_json, scale, db_path,
                     as_json) -> None:
    """Score a judge program on stored examples and print its metrics."""
    from judge.lm import lm_identity
    from judgeflow.store import open_store
    from judgeflow.weeks import parse_week
    from tasks.evaluate import evaluate_program
    from tasks.split import load_examples

    week = parse_week(week)
    settings = load_settings(db_path=db_path, scale=scale)
    program, source, note = resolve_program(program_spec, settings)
    with open_store(settings.database) as con:
        examples = load_examples(con, split, week, limit=limit)
        if not examples:
            raise click.ClickException(f"no {split} examples up to {week} in {settings.database}; ingest a week first")
        lm_cfg = resolve_lm(settings, model, api_base, constrained_json)
        result = evaluate_program(
            program,
            examples,
            lm_cfg,
            scale=settings.scale,
            con=con,
            split=split,
            week=week,
            concurrency=concurrency,
            use_cache=not no_cache,
            progress=not as_json,
            label=source.split()[0],
        )
    payload = {
        "run_id": result.run_id,
        "program": source,
        "program_hash": result.program_hash,
        "note": note,
        "split": split,
        "week": week,
        "lm": json.loads(lm_identity(lm_cfg)),
        "n": result.n,
        "n_lm_errors": result.n_lm_errors,
        "calls": result.calls,
        "cache_hits": result.cache_hits,
        "seconds": round(result.seconds, 3),
        "usage": result.usage,
        "metrics": result.metrics,
    }
    if as_json:
        click.echo(json.dumps(payload, default=str))
    else:
        _print_table(payload)


@cli.group("lm")
def lm_group() -> None:
    """The embedded local judge model (Gemma 3 270M on llama.cpp)."""


@lm_group.command("prepare")
def lm_prepare_command() -> None:
    """Assemble the local model file under the judgeflow home (once)."""
    from judge.local_model import model_path

    click.echo(str(model_path(load_settings().home)))


@lm_group.command("serve")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port on 127.0.0.1 (default: settings, 8765).")
def lm_serve_command(port: int | None) -> None:
    """Serve the local model on 127.0.0.1 until Ctrl-C."""
    from judge.local_model import LocalModelServer, model_path

    settings = load_settings(local_model_port=port)
    path = model_path(settings.home)
    with LocalModelServer(settings.local_model_port, path) as server:
        click.echo(f"serving {path.name} as {server.alias} on {server.api_base} (Ctrl-C to stop)")
        try:
            while server.process is not None and server.process.poll() is None:
                threading.Event().wait(1.0)
        except KeyboardInterrupt:
            click.echo("stopping")
            return
        code = server.process.returncode if server.process is not None else None
    raise click.ClickException(f"the local model server exited with code {code}")
