"""The champion: the pointer, its history, rollback and staged approval, and reading versions.

The pointer is the truth about which program judges production; ``history.jsonl`` records
every move (promote, approve, rollback) and every staged decision (reject). A pointer move
happens only after the version is complete and its sha256 checked, and the history line is
appended after the move (a crash in between loses a line, never a champion; the rollback
stack trusts the pointer over the history). Writing new versions is tasks/publish.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from tasks.artifacts import (
    HISTORY,
    POINTER,
    ArtifactError,
    ArtifactStore,
    dumps,
    now_iso,
    sha256_bytes,
    version_name,
    version_number,
)

Status = Literal["promoted", "staged", "rejected"]


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


def version_info(
    store: ArtifactStore, manifest: dict[str, Any], champion: str | None, approvals: dict[str, bool]
) -> VersionInfo:
    """How ``judgeflow history`` lists the version of ``manifest``."""
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


def staged_decisions(store: ArtifactStore) -> dict[str, bool]:
    """{staged version: True approved, False rejected} from the history."""
    decided: dict[str, bool] = {}
    for entry in store.read_lines(HISTORY):
        if entry.get("action") in ("approve", "reject"):
            decided[entry["version"]] = entry["action"] == "approve"
    return decided


def list_versions(store: ArtifactStore) -> list[VersionInfo]:
    """Every complete version, oldest first, with its candidate metrics and champion marker."""
    pointer = read_pointer(store)
    champion = pointer["version"] if pointer else None
    approvals = staged_decisions(store)
    return [version_info(store, store.read_json(v, "manifest.json"), champion, approvals) for v in store.version_names()]


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
    return version_info(store, manifest, version, staged_decisions(store))


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
    if manifest["status"] != "promoted" and staged_decisions(store).get(target) is not True:
        raise ArtifactError(
            f"version {target} was never champion (status {manifest['status']}, not approved); pick a promoted version"
        )
    new = {"version": target, "sha256": sha256_bytes(data), "moved_at": now_iso(), "reason": reason}
    store.replace_file(POINTER, dumps(new))
    store.append_line(HISTORY, {**new, "action": "rollback", "mode": mode, "from": pointer["version"]})
    return version_info(store, manifest, target, staged_decisions(store))


def approve_staged(store: ArtifactStore, version: str, reason: str = "approved") -> VersionInfo:
    """Promote a staged version after a human approved it."""
    _, manifest = read_version(store, version)
    if manifest["status"] != "staged":
        raise ArtifactError(
            f"version {version} is {manifest['status']}, not staged; only staged versions await approval"
        )
    if staged_decisions(store).get(version) is False:
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
    return version_info(store, manifest, (read_pointer(store) or {}).get("version"), staged_decisions(store))


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
    from judge.saving import load_program

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.json"
        path.write_bytes(data)
        return load_program(path, settings.scale), manifest


@task(name="rollback-champion", cache_policy=NO_CACHE)
def rollback_task(artifacts_url: str, to: str | None = None, reason: str = "manual rollback") -> VersionInfo:
    """Move the champion pointer back to an earlier version."""
    return rollback(ArtifactStore(artifacts_url), to=to, reason=reason)
