"""Saving and loading the judge: its canonical state, the hash that names it, and the file.

A saved program is state-only DSPy JSON (loadable with ``program.load``) plus a ``judgeflow``
block that says what it was built for (scale, fields, variant); loading refuses a file built
for another scale or signature instead of judging on a silently different contract.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from dspy.utils.saving import get_dependency_versions

import judgeflow
from judge.program import INPUT_FIELDS, OUTPUT_FIELDS, RelevanceJudge
from judge.scale import Scale
from judgeflow.errors import InputError

PROGRAM_FORMAT = 1


def program_state(program: RelevanceJudge) -> dict[str, Any]:
    """Everything that shapes the judge's prompts and answers, as plain JSON (no LM)."""
    predictor = program.predictor
    dumped = predictor.dump_state()
    state: dict[str, Any] = {
        "format": PROGRAM_FORMAT,
        "scale": str(program.scale),
        "variant": program.variant,
        "max_document_chars": program.max_document_chars,
        "input_fields": list(INPUT_FIELDS),
        "output_fields": list(OUTPUT_FIELDS),
        "signature": dumped["signature"],
        "demos": dumped["demos"],
    }
    if program.variant == "self_consistency":
        state["n_samples"] = program.n_samples
        state["aggregate"] = program.aggregate
    return state


def program_hash(program: RelevanceJudge) -> str:
    """sha256 of the canonical JSON of program_state: equal programs, equal hashes."""
    canonical = json.dumps(
        program_state(program),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def save_program(program: RelevanceJudge, path: str | Path) -> Path:
    """State-only DSPy JSON (loadable with ``program.load``) plus judgeflow metadata; no LM, no pickle."""
    path = Path(path)
    state = program.dump_state()
    for predictor_state in state.values():
        predictor_state["lm"] = None
    state["metadata"] = {"dependency_versions": get_dependency_versions()}
    meta = {k: v for k, v in program_state(program).items() if k not in ("signature", "demos")}
    meta.update(
        judgeflow_version=judgeflow.__version__,
        n_samples=program.n_samples,
        aggregate=program.aggregate,
        program_hash=program_hash(program),
    )
    state["judgeflow"] = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    os.replace(tmp, path)
    return path


def load_program(path: str | Path, scale: Scale | str) -> RelevanceJudge:
    """Load a save_program file, refusing one built for another scale or signature."""
    path = Path(path)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read program file {str(path)!r} ({exc}); pass a file written by save_program"
        ) from exc
    meta = state.get("judgeflow") if isinstance(state, dict) else None
    if not isinstance(meta, dict):
        raise InputError(
            f"{str(path)!r} has no judgeflow metadata; save programs with judge.saving.save_program"
        )
    scale = Scale.parse(scale)
    built_for = Scale.parse(meta.get("scale", ""))
    if built_for != scale:
        raise InputError(
            f"program {str(path)!r} was built for scale {built_for} but the project scale is {scale}; "
            f"optimize a program on {scale} or set the project scale back to {built_for}"
        )
    fields = (tuple(meta.get("input_fields", ())), tuple(meta.get("output_fields", ())))
    if fields != (INPUT_FIELDS, OUTPUT_FIELDS):
        raise InputError(
            f"program {str(path)!r} has fields {fields} but the judge needs {(INPUT_FIELDS, OUTPUT_FIELDS)}; "
            "rebuild it from judge.program.RelevanceJudge"
        )
    program = RelevanceJudge(
        scale=scale,
        variant=meta.get("variant", "predict"),
        n_samples=meta.get("n_samples", 5),
        aggregate=meta.get("aggregate", "median"),
        max_document_chars=meta.get("max_document_chars", 2000),
    )
    expected = {name: len(p.signature.fields) for name, p in program.named_predictors()}
    found = {
        name: len((state.get(name) or {}).get("signature", {}).get("fields", []))
        for name in expected
    }
    if found != expected:
        raise InputError(
            f"program {str(path)!r} does not match a {program.variant} judge's signature {expected}"
        )
    program.load_state({name: state[name] for name in expected})
    return program
