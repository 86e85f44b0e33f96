"""CLI commands: score.

``judgeflow score`` computes every judge.metrics figure offline from two JSONL files (plain
or .gz) whose lines hold ``id`` and ``rating``; a null prediction rating means the judge's
answer was unparseable. Rules:

- A gold id with no prediction line counts as unparsed (the judge gave no usable answer, the
  maximal error) and is reported as ``n_missing``; dropping it would flatter the judge.
- A prediction id that is not in the gold file, a duplicate id, a gold rating that is null
  or outside the scale, a predicted rating outside the scale, or a rating that is not a JSON
  integer (``4.0`` counts as 4) are errors naming the file, line and value.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import click

from judge.metrics import UNPARSED, compute_metrics
from judge.scale import Scale
from judgeflow.cli import cli
from judgeflow.cli.options import json_option, scale_option
from judgeflow.config import load_settings
from judgeflow.errors import InputError


def _open(path: Path):
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if path.suffix == ".gz"
        else path.open(encoding="utf-8")
    )


def _rating(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InputError(f"{where}: rating must be an integer or null, got {value!r}")


def read_ratings(path: str | Path) -> dict[str, int | None]:
    """{id: rating} from a JSONL file of {"id": ..., "rating": int | null} lines."""
    path = Path(path)
    ratings: dict[str, int | None] = {}
    with _open(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(
                    f"{where}: not a JSON object ({exc}); write one object per line"
                ) from exc
            if not isinstance(row, dict) or "id" not in row or "rating" not in row:
                raise InputError(
                    f"{where}: each line needs the fields id and rating, got {line.strip()[:80]!r}"
                )
            key = str(row["id"])
            if key in ratings:
                raise InputError(f"{where}: duplicate id {key!r}; keep one line per id")
            ratings[key] = _rating(row["rating"], where)
    return ratings


def score_files(
    predictions: str | Path, gold: str | Path, scale: Scale, *, n_boot: int = 1000, seed: int = 0
) -> dict:
    """compute_metrics over the ids of the gold file, plus n_missing (see the module docstring)."""
    preds = read_ratings(predictions)
    golds = read_ratings(gold)
    if not golds:
        raise InputError(f"gold file {str(gold)!r} has no rows; nothing to score")
    unknown = sorted(set(preds) - set(golds))
    if unknown:
        raise InputError(
            f"{len(unknown)} prediction id(s) are not in the gold file, e.g. {unknown[0]!r}; "
            "score predictions against the gold file they were made for"
        )
    for key, rating in golds.items():
        if rating is None or not scale.contains(rating):
            raise InputError(
                f"gold rating {rating!r} for id {key!r} is outside the scale {scale}; fix it or pass --scale"
            )
    for key, rating in preds.items():
        if rating is not None and not scale.contains(rating):
            raise InputError(
                f"predicted rating {rating!r} for id {key!r} is outside the scale {scale}; "
                "write null for an unparseable answer or pass --scale"
            )
    ids = list(golds)
    metrics = compute_metrics(
        [preds.get(i) for i in ids], [golds[i] for i in ids], scale, n_boot=n_boot, seed=seed
    )
    metrics["n_missing"] = sum(i not in preds for i in ids)
    return metrics


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(metrics: dict) -> str:
    """The readable form of score_files' result."""
    ci = metrics["nmse_ci"]
    rows = [
        (
            "nmse (0-100)",
            f"{_fmt(metrics['nmse'], 2)}  (95% CI {_fmt(ci[0], 2)} - {_fmt(ci[1], 2)})",
        ),
        ("parse_rate", _fmt(metrics["parse_rate"])),
        (
            "n / parsed / missing",
            f"{metrics['n']} / {metrics['n_parsed']} / {metrics['n_missing']}",
        ),
        ("mae", _fmt(metrics["mae"])),
        ("exact", _fmt(metrics["exact"])),
        ("within1", _fmt(metrics["within1"])),
        ("kappa", _fmt(metrics["kappa"])),
        ("qwk", _fmt(metrics["qwk"])),
        ("pearson", _fmt(metrics["pearson"])),
        ("spearman", _fmt(metrics["spearman"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"scale {metrics['scale']}; agreement and correlations over parsed rows", ""]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [
        "",
        "nmse by gold rating: "
        + ", ".join(f"{k}: {_fmt(v, 2)}" for k, v in metrics["nmse_by_gold"].items()),
    ]
    columns = [*next(iter(metrics["confusion"].values())).keys()]
    cell = max(6, len(UNPARSED))
    lines += [
        "",
        "confusion (rows gold, columns predicted)",
        "gold".ljust(6) + "".join(c.rjust(cell + 1) for c in columns),
    ]
    for gold, counts in metrics["confusion"].items():
        lines.append(gold.ljust(6) + "".join(str(counts[c]).rjust(cell + 1) for c in columns))
    return "\n".join(lines)


@cli.command("score")
@click.option(
    "--predictions",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL: id, rating (null = unparseable).",
)
@click.option(
    "--gold",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL: id, rating (human).",
)
@scale_option
@json_option
@click.option(
    "--n-boot",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bootstrap resamples for the NMSE interval.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed.")
def score(
    predictions: str, gold: str, scale: str | None, as_json: bool, n_boot: int, seed: int
) -> None:
    """Score judge predictions against human ratings offline (NMSE, parse rate, kappa, ...)."""
    settings = load_settings(scale=scale)
    metrics = score_files(predictions, gold, settings.scale, n_boot=n_boot, seed=seed)
    click.echo(json.dumps(metrics) if as_json else format_table(metrics))
