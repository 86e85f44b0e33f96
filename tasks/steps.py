"""Plain functions behind the weekly flow's tasks (tasks/flow_tasks.py): the glue between steps.

Each takes settings and JSON-able records (paths, hashes, predictions), opens what it needs
and closes it again, and returns a JSON-able record the next step reads. Programs travel as
files described by ``{"path", "sha256", "version", "source"}``; version is None for the
unpublished hand-written baseline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from judge.scale import Scale
from judgeflow.config import Settings
from judgeflow.errors import ValidationFailedError
from judgeflow.store import open_store
from judgeflow.weeks import parse_week
from tasks.artifacts import ArtifactStore, week_lock
from tasks.champion import list_versions, read_pointer, read_version
from tasks.gate import Check, Decision, GateThresholds, decide


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def program_record(path: Path, *, version: str | None, source: str) -> dict[str, Any]:
    return {"path": str(path), "sha256": sha256_file(path), "version": version, "source": source}


@contextmanager
def week_claim(settings: Settings, week: str, run_id: str) -> Iterator[dict[str, Any]]:
    """Hold the week's publish lock for the whole run: a second run of the week stops here."""
    with week_lock(ArtifactStore(settings.artifacts), parse_week(week), run_id=run_id) as record:
        yield record


# ---- files and validation --------------------------------------------------------------------


def week_files(settings: Settings, week: str, data_dir: str | None) -> dict[str, str | None]:
    """The week's annotation and production files in ``data_dir/<week>/`` (sample-data layout)."""
    root = Path(data_dir) if data_dir else Path(settings.home) / "inbox"
    folder = root / parse_week(week)
    found: dict[str, str | None] = {}
    for source in ("annotations", "production"):
        matches = sorted(p for p in folder.glob(f"{source}.*") if p.is_file())
        found[source] = str(matches[0]) if matches else None
    if not any(found.values()):
        raise ValidationFailedError(
            f"no input files for week {week} in {folder}: put annotations.jsonl (and production.parquet) "
            "there, or pass data_dir"
        )
    return found


def validation_summary(ingested: dict[str, Any]) -> dict[str, Any]:
    """Per source: rows read, ingested, quarantined, reasons and failed expectations."""
    summary: dict[str, Any] = {"week": ingested.get("week"), "sources": {}}
    for source in ("annotations", "production"):
        counts = ingested.get(source) or {}
        if not counts.get("read"):
            continue
        results = (ingested.get("validation") or {}).get(source) or []
        failed = [r for r in results if isinstance(r, dict) and r.get("success") is False]
        summary["sources"][source] = {
            "read": counts.get("read"),
            "ingested": counts.get("ingested"),
            "quarantined": counts.get("quarantined"),
            "reasons": counts.get("reasons", {}),
            "status": (ingested.get("runs") or {}).get(source, {}).get("status"),
            "expectations": len(results),
            "failed_expectations": [r.get("expectation") for r in failed],
        }
    return summary


def examples_digest(con: Any, week: str) -> str:
    """sha256 over every labelled example up to the week: id, split, gold and text."""
    from tasks.split import SPLITS, load_examples

    digest = hashlib.sha256()
    for split in SPLITS:
        for ex in sorted(load_examples(con, split, week), key=lambda e: e.id):
            fields = (split, ex.id, ex.gold, ex.query, ex.document, ex.title, ex.doc_type, ex.modified_at)
            digest.update(repr(fields).encode("utf-8"))
    return digest.hexdigest()


# ---- champion ------------------------------------------------------------------------------


def week_start_champion(store: ArtifactStore, week: str) -> str | None:
    """The version the week started from: the parent of its first version, else the pointer.

    A rerun of a finished week must start from the same champion as its first run, or it
    would optimize the week's own winner and publish again (None = the baseline).
    """
    for info in list_versions(store):
        if info.week == week:
            return info.parent
    pointer = read_pointer(store)
    return pointer["version"] if pointer else None


def champion_program(settings: Settings, week: str, workdir: Path) -> dict[str, Any]:
    """Write the week's champion (or the baseline) to workdir and describe it."""
    from judge.program import RelevanceJudge
    from judge.saving import save_program

    store = ArtifactStore(settings.artifacts)
    version = week_start_champion(store, parse_week(week))
    path = workdir / "champion.json"
    if version is None:
        save_program(RelevanceJudge(scale=settings.scale), path)
        return program_record(path, version=None, source="baseline")
    data, _manifest = read_version(store, version)
    path.write_bytes(data)
    return program_record(path, version=version, source="published")


# ---- evaluation ----------------------------------------------------------------------------


def evaluate_program_file(settings: Settings, week: str, program: dict[str, Any], *, split: str, role: str) -> dict[str, Any]:
    """Evaluate a program file on one split; return metrics, per-example predictions, usage."""
    from judge.disagreements import build_report
    from judge.local_model import with_local_endpoint
    from judge.saving import load_program
    from tasks.evaluate import evaluate_program
    from tasks.split import load_examples

    judge = load_program(program["path"], settings.scale)
    lm_cfg = with_local_endpoint(settings, settings.judge_lm)
    with open_store(settings.database) as con:
        examples = load_examples(con, split, week)
        result = evaluate_program(
            judge, examples, lm_cfg, scale=settings.scale, con=con, split=split, week=week, label=role, progress=False
        )
    predictions = {
        ex.id: {
            "rating": out.rating if out.status == "ok" else None,
            "status": out.status,
            "error_kind": out.error_kind,
            "gold": ex.gold,
        }
        for ex, out in zip(examples, result.outputs, strict=True)
    }
    disagreements = build_report(examples, result.outputs, settings.scale, top=10)
    return {
        "role": role,
        "program": program,
        "run_id": result.run_id,
        "split": split,
        "metrics": result.metrics,
        "n_lm_errors": result.n_lm_errors,
        "calls": result.calls,
        "cache_hits": result.cache_hits,
        "seconds": result.seconds,
        "program_hash": result.program_hash,
        "lm_identity": result.lm_identity,
        "predictions": predictions,
        "disagreements_md": disagreements.to_markdown(f"Top disagreements of the {role}"),
    }


# ---- guardrails and gate -------------------------------------------------------------------


def guardrail_verdict(settings: Settings, week: str, champion: dict[str, Any], candidate: dict[str, Any]) -> dict[str, Any]:
    """Run every guardrail on the candidate against train and dev data and the champion."""
    from judge.guardrails import Guardrails
    from judge.saving import load_program
    from tasks.split import load_examples

    champ = load_program(champion["path"], settings.scale)
    cand = load_program(candidate["path"], settings.scale)
    with open_store(settings.database) as con:
        seen = load_examples(con, "train", week) + load_examples(con, "dev", week)
    rails = Guardrails.for_data(seen, settings.scale, champion_instruction=champ.instruction)
    violations = [v.to_dict() for v in rails.check_program(cand, champ)]
    return {"passed": not violations, "violations": violations, "same_as_champion": champion["sha256"] == candidate["sha256"]}


def aligned_predictions(
    champion_eval: dict[str, Any], candidate_eval: dict[str, Any]
) -> tuple[list[str], list[int | None], list[int | None], list[int]]:
    """Example ids both programs answered (lm_errors left out), both predictions and the gold."""
    champ, cand = champion_eval["predictions"], candidate_eval["predictions"]
    ids = sorted(i for i in champ if i in cand and "lm_error" not in (champ[i]["status"], cand[i]["status"]))
    return ids, [champ[i]["rating"] for i in ids], [cand[i]["rating"] for i in ids], [champ[i]["gold"] for i in ids]


def guardrail_decision(champion_metrics: dict[str, Any], guardrails: dict[str, Any], thresholds: GateThresholds) -> Decision:
    """A keep decision for a candidate the guardrails rejected (it is never evaluated)."""
    rules = ", ".join(sorted({v["rule"] for v in guardrails["violations"]}))
    message = f"the candidate failed the guardrails ({rules})"
    return Decision(
        promote=False,
        reason=f"kept: {message}.",
        checks=[Check(name="guardrails", value=len(guardrails["violations"]), threshold=0, passed=False, message=message)],
        champion=champion_metrics,
        candidate={},
        delta_nmse=0.0,
        delta_nmse_ci=(0.0, 0.0),
        parse_rate_delta=0.0,
        bucket_deltas={},
        thresholds=thresholds,
        n=int(champion_metrics.get("n") or 0),
    )


def gate_decision(
    scale: Scale,
    champion_eval: dict[str, Any],
    candidate_eval: dict[str, Any] | None,
    guardrails: dict[str, Any],
    thresholds: GateThresholds,
) -> dict[str, Any]:
    """The gate's decision record: every number, every threshold, the one-sentence reason."""
    if candidate_eval is None or not guardrails["passed"]:
        return guardrail_decision(champion_eval["metrics"], guardrails, thresholds).model_dump(mode="json")
    ids, champ, cand, golds = aligned_predictions(champion_eval, candidate_eval)
    decision = decide(champ, cand, golds, scale, thresholds)
    digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
    return {**decision.model_dump(mode="json"), "example_ids_sha256": digest}


# ---- optimize ------------------------------------------------------------------------------


def optimize_candidate(
    settings: Settings, week: str, champion: dict[str, Any], optimizer: str, budget_calls: int,
    budget_cost: float | None, seed: int,
) -> dict[str, Any]:
    """Optimize the week's champion on train (dev for selection) and describe the candidate file."""
    from judge.saving import load_program
    from tasks.optimize import optimize_week
    from tasks.optimizers.context import OptimizeSettings

    result = optimize_week(
        settings,
        week,
        OptimizeSettings(optimizer=optimizer, budget_calls=budget_calls, budget_cost=budget_cost, seed=seed),
        champion=load_program(champion["path"], settings.scale),
    )
    if result.program_path is None:
        raise RuntimeError(f"the {optimizer} optimizer saved no candidate for {week}; check {settings.home}/candidates")
    record = program_record(result.program_path, version=None, source=f"optimizer:{optimizer}")
    summary = result.to_dict()
    summary["settings"] = result.manifest.get("settings", {})
    summary["instruction_diff"] = result.manifest.get("instruction_diff")
    summary["disagreements_md"] = result.disagreements_md
    return {"candidate": record, "optimization": summary}
