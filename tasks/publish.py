"""Publish: immutable program versions, the champion pointer, rollback and staged approval.

The pointer is the truth about which program judges production; ``history.jsonl`` records
every move (promote, approve, rollback) and every staged decision (reject). A pointer move
happens only after the version is complete and its sha256 checked, and the history line is
appended after the move (a crash in between loses a line, never a champion; the rollback
stack trusts the pointer over the history).

Idempotence: publishing a program whose sha256 already sits in a version of the same week
with the same status returns that version (``existing=True``) instead of creating another,
and, when promoting, moves the pointer to it if a crashed run had not (the pointer still on
the version's parent). Reruns of a week are therefore safe, and rerunning an old week never
moves the pointer backwards.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from judgeflow.weeks import parse_week
from tasks.artifacts import (
    HISTORY,
    POINTER,
    ArtifactError,
    ArtifactStore,
    dumps,
    jsonable,
    now_iso,
    sha256_bytes,
    version_name,
    version_number,
    week_lock,
)

Status = Literal["promoted", "staged", "rejected"]
LIBRARIES = ("dspy", "litellm", "prefect", "duckdb", "judgeflow")


class VersionInfo(BaseModel):
    """One version as listed by ``judgeflow history``."""

    version: str
    week: str
    status: Status
    parent: str | None = None
    sha256: str
    created_at: str
    nmse: float | None = None
    parse_rate: float | None = None
    champion: bool = False
    approved: bool | None = None  # staged versions: True approved, False rejected, None pending
    existing: bool = False  # publish_version found this content already published
    url: str = ""


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
        from judge.program import save_program

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


def read_pointer(store: ArtifactStore) -> dict[str, Any] | None:
    """The CHAMPION pointer, or None before the first promotion."""
    if not store.exists(POINTER):
        return None
    return store.read_json(POINTER)


def read_version(store: ArtifactStore, version: str) -> tuple[bytes, dict[str, Any]]:
    """(program.json bytes, manifest) of a complete version whose sha256 checks out."""
    version_number(version)
    if not store.exists(version, "manifest.json"):
        raise ArtifactError(f"version {version} does not exist in {store.url}; run `judgeflow history` to list them")
    manifest = store.read_json(version, "manifest.json")
    data = store.read_bytes(version, "program.json")
    actual = sha256_bytes(data)
    if actual != manifest.get("sha256"):
        raise ArtifactError(
            f"program.json of {version} has sha256 {actual[:12]}..., but its manifest says "
            f"{str(manifest.get('sha256'))[:12]}...; the artifact is corrupt: roll back to another version"
        )
    return data, manifest


def _info(
    store: ArtifactStore, manifest: dict[str, Any], champion: str | None, approvals: dict[str, bool]
) -> VersionInfo:
    metrics = manifest.get("candidate_metrics") or {}
    return VersionInfo(
        version=manifest["version"],
        week=manifest["week"],
        status=manifest["status"],
        parent=manifest.get("parent"),
        sha256=manifest["sha256"],
        created_at=manifest["created_at"],
        nmse=metrics.get("nmse"),
        parse_rate=metrics.get("parse_rate"),
        champion=manifest["version"] == champion,
        approved=approvals.get(manifest["version"]) if manifest["status"] == "staged" else None,
        url=store.path(manifest["version"]),
    )


def _approvals(store: ArtifactStore) -> dict[str, bool]:
    decided: dict[str, bool] = {}
    for entry in store.read_lines(HISTORY):
        if entry.get("action") in ("approve", "reject"):
            decided[entry["version"]] = entry["action"] == "approve"
    return decided


def list_versions(store: ArtifactStore) -> list[VersionInfo]:
    """Every complete version, oldest first, with its candidate metrics and champion marker."""
    pointer = read_pointer(store)
    champion = pointer["version"] if pointer else None
    approvals = _approvals(store)
    return [_info(store, store.read_json(v, "manifest.json"), champion, approvals) for v in store.version_names()]


def move_champion(store: ArtifactStore, version: str, reason: str, *, action: str = "promote") -> VersionInfo:
    """Point CHAMPION at a complete, verified version and log the move in history.jsonl."""
    data, manifest = read_version(store, version)
    if manifest["status"] == "rejected":
        raise ArtifactError(f"version {version} was rejected by the gate and cannot become champion; pick another")
    before = read_pointer(store)
    pointer = {
        "version": version,
        "sha256": sha256_bytes(data),
        "moved_at": now_iso(),
        "reason": reason,
    }
    store.replace_file(POINTER, dumps(pointer))
    store.append_line(HISTORY, {**pointer, "action": action, "from": before["version"] if before else None})
    return _info(store, manifest, version, _approvals(store))


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
            info = _info(store, found, pointer["version"] if pointer else None, _approvals(store))
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
        return _info(
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


def champion_stack(store: ArtifactStore) -> list[str]:
    """Champions in order, the current one last: promotions push, a default rollback pops."""
    stack: list[str] = []
    for entry in store.read_lines(HISTORY):
        action = entry.get("action")
        if action == "rollback" and entry.get("mode") == "previous":
            if stack:
                stack.pop()
            if not stack or stack[-1] != entry["version"]:
                stack.append(entry["version"])
        elif action in ("promote", "approve", "rollback"):
            stack.append(entry["version"])
    pointer = read_pointer(store)
    if pointer and (not stack or stack[-1] != pointer["version"]):
        stack.append(pointer["version"])  # a move whose history line was lost in a crash
    return stack


def rollback(store: ArtifactStore, to: str | None = None, reason: str = "manual rollback") -> VersionInfo:
    """Move the pointer back: to ``to``, or by default to the champion before the current one."""
    pointer = read_pointer(store)
    if pointer is None:
        raise ArtifactError(f"there is no champion in {store.url} yet, so nothing to roll back")
    if to is None:
        stack = champion_stack(store)
        earlier = [v for v in stack[:-1] if v != pointer["version"]]
        if not earlier:
            raise ArtifactError(
                f"{pointer['version']} is the first champion in {store.url}; pass --to VERSION to pick one"
            )
        target, mode = earlier[-1], "previous"
    else:
        target, mode = version_name(version_number(to)), "to"
        if target == pointer["version"]:
            raise ArtifactError(f"{target} is already the champion; pick another version to roll back to")
    data, manifest = read_version(store, target)
    if manifest["status"] != "promoted" and _approvals(store).get(target) is not True:
        raise ArtifactError(
            f"version {target} was never champion (status {manifest['status']}, not approved); pick a promoted version"
        )
    new = {"version": target, "sha256": sha256_bytes(data), "moved_at": now_iso(), "reason": reason}
    store.replace_file(POINTER, dumps(new))
    store.append_line(HISTORY, {**new, "action": "rollback", "mode": mode, "from": pointer["version"]})
    return _info(store, manifest, target, _approvals(store))


def approve_staged(store: ArtifactStore, version: str, reason: str = "approved") -> VersionInfo:
    """Promote a staged version after a human approved it."""
    _, manifest = read_version(store, version)
    if manifest["status"] != "staged":
        raise ArtifactError(
            f"version {version} is {manifest['status']}, not staged; only staged versions await approval"
        )
    if _approvals(store).get(version) is False:
        raise ArtifactError(f"version {version} was already rejected; publish the week again to stage a new one")
    return move_champion(store, version, reason, action="approve")


def reject_staged(store: ArtifactStore, version: str, reason: str = "rejected") -> VersionInfo:
    """Record that a staged version was rejected (or timed out); the pointer does not move."""
    _, manifest = read_version(store, version)
    if manifest["status"] != "staged":
        raise ArtifactError(
            f"version {version} is {manifest['status']}, not staged; only staged versions await approval"
        )
    store.append_line(HISTORY, {"action": "reject", "version": version, "reason": reason, "moved_at": now_iso()})
    return _info(store, manifest, (read_pointer(store) or {}).get("version"), _approvals(store))


def read_champion(store: ArtifactStore) -> tuple[str, bytes, dict[str, Any]] | None:
    """(version, program.json bytes, manifest) of the champion, sha256-verified; None if none."""
    pointer = read_pointer(store)
    if pointer is None:
        return None
    data, manifest = read_version(store, pointer["version"])
    if sha256_bytes(data) != pointer.get("sha256"):
        raise ArtifactError(
            f"the champion pointer expects sha256 {str(pointer.get('sha256'))[:12]}... for {pointer['version']}, "
            f"but program.json has {sha256_bytes(data)[:12]}...; roll back to another version"
        )
    return pointer["version"], data, manifest


def load_champion(settings: Any) -> tuple[Any, dict[str, Any]] | None:
    """(program, manifest) of the champion loaded with settings.scale; None before the first one."""
    store = ArtifactStore(settings.artifacts)
    found = read_champion(store)
    if found is None:
        return None
    version, data, manifest = found
    if manifest.get("scale") is not None and str(manifest["scale"]) != str(settings.scale):
        raise ArtifactError(
            f"champion {version} was built for scale {manifest['scale']}, but settings say {settings.scale}; "
            "fix the scale setting or roll back to a version of this scale"
        )
    from judge.program import load_program

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.json"
        path.write_bytes(data)
        return load_program(path, settings.scale), manifest


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


@task(name="rollback-champion", cache_policy=NO_CACHE)
def rollback_task(artifacts_url: str, to: str | None = None, reason: str = "manual rollback") -> VersionInfo:
    """Move the champion pointer back to an earlier version."""
    return rollback(ArtifactStore(artifacts_url), to=to, reason=reason)
