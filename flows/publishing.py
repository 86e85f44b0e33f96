"""Publishing a week's outcome: the baseline on the first run, then the candidate.

Kept here rather than in tasks/publish.py because it is flow policy, not storage: which
programs to publish with which status, what their manifests say, and how a rerun of a
finished week finds what it already published instead of publishing again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judgeflow.config import Settings
from tasks.artifacts import ArtifactStore
from tasks.champion import list_versions, read_pointer
from tasks.publish import publish_version


def _lms(settings: Settings) -> dict[str, Any]:
    return {"judge": settings.judge_lm.identity(), "reflection": settings.reflection_lm.identity()}


def _manifest(settings: Settings, week: str, run_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"week": week, "scale": str(settings.scale), "lms": _lms(settings), "flow_run_id": run_id, **extra}


def publish_baseline(
    store: ArtifactStore, settings: Settings, week: str, champion: dict[str, Any], champion_eval: dict[str, Any],
    snapshot: dict[str, Any], report_md: str, run_id: str | None,
) -> dict[str, Any] | None:
    """Publish the hand-written baseline as the first champion when the store has none.

    Returns the version (new, or found again on a resumed run); None when a champion exists.
    """
    if champion["version"] is not None:
        return None
    if read_pointer(store) is not None:
        # A rerun of the first week: the baseline is already published; report it, touch nothing.
        for info in list_versions(store):
            if info.sha256 == champion["sha256"] and info.status == "promoted":
                return info.model_copy(update={"existing": True}).model_dump(mode="json")
        return None
    manifest = _manifest(
        settings, week, run_id,
        optimizer={"name": "baseline", "settings": {}},
        data_snapshot=snapshot,
        champion_metrics=None,
        candidate_metrics=champion_eval["metrics"],
        decision={"promote": True, "reason": f"baseline published as the first champion for {week}."},
    )
    data = Path(champion["path"]).read_bytes()
    info = publish_version(store, data, manifest, report_md, promote=True, run_id=run_id)
    return info.model_dump(mode="json")


def publish_candidate(
    store: ArtifactStore, settings: Settings, week: str, *, candidate: dict[str, Any], champion: dict[str, Any],
    decision: dict[str, Any], champion_eval: dict[str, Any], candidate_eval: dict[str, Any] | None,
    snapshot: dict[str, Any], optimization: dict[str, Any], report_md: str, require_approval: bool, run_id: str | None,
) -> dict[str, Any] | None:
    """Publish the candidate: promoted, staged for approval, or kept as a rejected version.

    A candidate identical to the champion (the optimizer found nothing better) is not published.
    """
    if candidate["sha256"] == champion["sha256"]:
        return None
    promote = bool(decision["promote"])
    manifest = _manifest(
        settings, week, run_id,
        optimizer={"name": optimization.get("optimizer"), "settings": optimization.get("settings", {})},
        optimization={k: v for k, v in optimization.items() if k not in ("program",)},
        data_snapshot=snapshot,
        champion_version=champion["version"],
        champion_metrics=champion_eval["metrics"],
        candidate_metrics=candidate_eval["metrics"] if candidate_eval else None,
        decision=decision,
    )
    data = Path(candidate["path"]).read_bytes()
    info = publish_version(
        store, data, manifest, report_md,
        promote=promote and not require_approval, staged=promote and require_approval, run_id=run_id,
    )
    return info.model_dump(mode="json")


def publish_outcome(
    settings: Settings, week: str, *, champion: dict[str, Any], candidate: dict[str, Any], decision: dict[str, Any],
    champion_eval: dict[str, Any], candidate_eval: dict[str, Any] | None, snapshot: dict[str, Any],
    optimization: dict[str, Any], report_md: str, dry_run: bool, require_approval: bool, run_id: str | None,
) -> dict[str, Any]:
    """Publish what the week decided; a dry run publishes nothing and says so."""
    store = ArtifactStore(settings.artifacts)
    outcome: dict[str, Any] = {"dry_run": dry_run, "store": store.url, "baseline": None, "candidate": None}
    if not dry_run:
        outcome["baseline"] = publish_baseline(
            store, settings, week, champion, champion_eval, snapshot, report_md, run_id
        )
        outcome["candidate"] = publish_candidate(
            store, settings, week, candidate=candidate, champion=champion, decision=decision,
            champion_eval=champion_eval, candidate_eval=candidate_eval, snapshot=snapshot,
            optimization=optimization, report_md=report_md, require_approval=require_approval, run_id=run_id,
        )
    pointer = read_pointer(store)
    outcome["champion_version"] = pointer["version"] if pointer else None
    return outcome


def settle_staged(settings: Settings, week: str, published: dict[str, Any], approval: dict[str, Any] | None) -> dict[str, Any]:
    """Apply a human's answer to a staged version: approve moves the pointer, else record a reject."""
    from tasks.champion import approve_staged, reject_staged

    staged = published.get("candidate")
    if approval is None or not staged or staged.get("status") != "staged" or staged.get("approved") is not None:
        return published
    store = ArtifactStore(settings.artifacts)
    who = approval.get("approver") or "a reviewer"
    note = f": {approval['comment']}" if approval.get("comment") else ""
    if approval.get("approved"):
        info = approve_staged(store, staged["version"], f"approved by {who} for {week}{note}")
    else:
        info = reject_staged(store, staged["version"], approval.get("reason") or f"rejected by {who}{note}")
    pointer = read_pointer(store)
    return {
        **published,
        "candidate": info.model_dump(mode="json"),
        "approval": approval,
        "champion_version": pointer["version"] if pointer else None,
    }
