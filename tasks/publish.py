"""Publish: write a new immutable program version and, when promoted, move the champion pointer.

Idempotence: publishing a program whose sha256 already sits in a version of the same week
with the same status returns that version (``existing=True``) instead of creating another,
and, when promoting, moves the pointer to it if a crashed run had not (the pointer still on
the version's parent). Reruns of a week are therefore safe, and rerunning an old week never
moves the pointer backwards. The pointer, history, rollback and approval are tasks/champion.py.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from judgeflow.weeks import parse_week
from tasks.artifacts import (
    ArtifactError,
    ArtifactStore,
    dumps,
    jsonable,
    now_iso,
    sha256_bytes,
    version_name,
    week_lock,
)
from tasks.champion import (
    Status,
    VersionInfo,
    move_champion,
    read_pointer,
    staged_decisions,
    version_info,
)

LIBRARIES = ("dspy", "litellm", "prefect", "duckdb", "judgeflow")


def build_manifest(
    *,
    week: str,
    scale: Any,
    optimizer: str,
    optimizer_settings: dict[str, Any] | None = None,
    judge_lm: Any = None,
    reflection_lm: Any = None,
    data: dict[str, Any] | None = None,
    champion_metrics: dict[str, Any] | None = None,
    candidate_metrics: dict[str, Any] | None = None,
    decision: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """The caller's part of manifest.json; LMs go in by ``identity()`` so no secret is stored."""

    def lm(cfg: Any) -> Any:
        return cfg.identity() if hasattr(cfg, "identity") else cfg

    return jsonable(
        {
            **extra,
            "week": parse_week(week),
            "scale": str(scale),
            "optimizer": {"name": optimizer, "settings": optimizer_settings or {}},
            "lms": {"judge": lm(judge_lm), "reflection": lm(reflection_lm)},
            "data": data or {},
            "champion_metrics": champion_metrics,
            "candidate_metrics": candidate_metrics,
            "decision": decision.model_dump(mode="json") if hasattr(decision, "model_dump") else decision,
        }
    )


def library_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_commit() -> str | None:
    """The checkout's HEAD commit when judgeflow runs from a git checkout, else None."""
    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def program_bytes(program: Any) -> bytes:
    """State-only JSON of ``program``: bytes as given, a dict as canonical JSON, else save_program."""
    if isinstance(program, bytes):
        data = program
    elif isinstance(program, dict):
        data = dumps(program)
    else:
        from judge.saving import save_program

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "program.json"
            save_program(program, path)
            data = path.read_bytes()
    try:
        json.loads(data)
    except ValueError as exc:
        raise ArtifactError("program.json must be JSON (state-only DSPy save), got unparseable bytes") from exc
    return data


def _status(promote: bool, staged: bool) -> Status:
    if promote and staged:
        raise ArtifactError("a version is either promoted or staged for approval, not both; pass one")
    return "promoted" if promote else "staged" if staged else "rejected"


def _find_existing(store: ArtifactStore, week: str, sha: str, status: Status) -> dict[str, Any] | None:
    for name in reversed(store.version_names()):
        manifest = store.read_json(name, "manifest.json")
        if manifest.get("week") == week and manifest.get("sha256") == sha and manifest.get("status") == status:
            return manifest
    return None


def publish_version(
    store: ArtifactStore,
    program: Any,
    manifest: dict[str, Any],
    report_md: str,
    *,
    promote: bool,
    staged: bool = False,
    run_id: str | None = None,
) -> VersionInfo:
    """Write a new immutable version (promoted, staged or rejected); move the pointer if promoted.

    ``manifest`` carries what the caller knows (week, optimizer and settings, lms, data
    snapshot, champion_metrics, candidate_metrics, decision, scale); version, parent, status,
    sha256, libraries, git_commit and created_at are filled in here. Holds the week's lock.
    """
    manifest = jsonable(manifest)  # a Decision or numpy values become plain JSON
    week = parse_week(manifest.get("week", ""))
    status = _status(promote, staged)
    data = program_bytes(program)
    sha = sha256_bytes(data)
    with week_lock(store, week, run_id=run_id):
        store.sweep_temp()
        found = _find_existing(store, week, sha, status)
        if found is not None:
            pointer = read_pointer(store)
            current = pointer["version"] if pointer else None
            # Resume only a move a crash interrupted: the pointer still sits on the version's
            # parent. A rerun of an older week must never drag the pointer backwards.
            if promote and current != found["version"] and current == found.get("parent"):
                return move_champion(store, found["version"], _reason(found, week)).model_copy(
                    update={"existing": True}
                )
            info = version_info(store, found, pointer["version"] if pointer else None, staged_decisions(store))
            return info.model_copy(update={"existing": True})
        pointer = read_pointer(store)
        full = {
            **manifest,
            "week": week,
            "status": status,
            "parent": pointer["version"] if pointer else None,
            "sha256": sha,
            "libraries": library_versions(),
            "git_commit": git_commit(),
            "created_at": now_iso(),
        }
        name = _write_next(store, full, data, report_md)
        if promote:
            return move_champion(store, name, _reason(manifest, week))
        return version_info(
            store,
            store.read_json(name, "manifest.json"),
            pointer["version"] if pointer else None,
            {},
        )


def _reason(manifest: dict[str, Any], week: str) -> str:
    decision = manifest.get("decision")
    return (decision.get("reason") if isinstance(decision, dict) else None) or f"promoted for {week}"


def _write_next(store: ArtifactStore, manifest: dict[str, Any], data: bytes, report_md: str) -> str:
    """Write under the next free number; on a lost race for a number, take the next one."""
    for _ in range(5):
        taken = store.taken_numbers()
        name = version_name((taken[-1] if taken else 0) + 1)
        files = {
            "program.json": data,
            "report.md": report_md.encode("utf-8"),
            "manifest.json": dumps({**manifest, "version": name}),
        }
        try:
            return store.write_version(name, files)
        except ArtifactError:
            if not store.exists(name):
                raise
    raise ArtifactError(f"could not find a free version number in {store.url} after 5 tries; retry")


@task(name="publish-version", cache_policy=NO_CACHE)
def publish_task(
    artifacts_url: str,
    program: Any,
    manifest: dict[str, Any],
    report_md: str,
    promote: bool,
    staged: bool = False,
    run_id: str | None = None,
) -> VersionInfo:
    """Publish the week's version to the artifact store and move the pointer if promoted."""
    return publish_version(
        ArtifactStore(artifacts_url),
        program,
        manifest,
        report_md,
        promote=promote,
        staged=staged,
        run_id=run_id,
    )
