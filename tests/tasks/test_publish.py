"""Publishing: versions, manifests, the champion pointer, rollback, history, staged approval.

Stays away from the LM, and from DSPy except for one load_champion round trip: programs are
plain state-only JSON dicts (what save_program writes). Store mechanics, crashes and the week
lock are in test_artifacts.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.scale import Scale
from tasks.artifacts import (
    ArtifactError,
    ArtifactStore,
    dumps,
    sha256_bytes,
)
from tasks.champion import (
    approve_staged,
    list_versions,
    load_champion,
    read_champion,
    read_pointer,
    read_version,
    reject_staged,
    rollback,
)
from tasks.publish import build_manifest, publish_version
from tests.tasks.artifact_data import manifest, program


def test_promoted_version_holds_program_manifest_and_report_and_the_pointer_names_it(store):
    info = publish_version(store, program("a"), manifest("2026-W45"), "# report\n", promote=True)
    assert (info.version, info.status, info.champion, info.existing) == (
        "v0001",
        "promoted",
        True,
        False,
    )
    root = Path(store.root)
    assert sorted(p.name for p in (root / "v0001").iterdir()) == [
        "manifest.json",
        "program.json",
        "report.md",
    ]
    written = json.loads((root / "v0001" / "manifest.json").read_text())
    assert written["sha256"] == sha256_bytes((root / "v0001" / "program.json").read_bytes())
    assert (written["version"], written["parent"], written["week"], written["scale"]) == (
        "v0001",
        None,
        "2026-W45",
        "1-5",
    )
    assert set(written["libraries"]) == {"dspy", "litellm", "prefect", "duckdb", "judgeflow"}
    assert written["libraries"]["duckdb"] == "2.0.0"
    assert written["created_at"]
    pointer = json.loads((root / "CHAMPION").read_text())
    assert pointer == {
        **pointer,
        "version": "v0001",
        "sha256": written["sha256"],
        "reason": "promoted: test for 2026-W45.",
    }
    assert [line["action"] for line in map(json.loads, (root / "history.jsonl").read_text().splitlines())] == [
        "promote"
    ]


def test_next_version_records_its_parent_and_a_kept_candidate_is_stored_as_rejected(store):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    kept = publish_version(store, program("b"), manifest("2026-W46"), "r", promote=False)
    promoted = publish_version(store, program("c"), manifest("2026-W47"), "r", promote=True)
    assert (kept.version, kept.status, kept.parent, kept.champion) == (
        "v0002",
        "rejected",
        "v0001",
        False,
    )
    assert (promoted.version, promoted.parent) == ("v0003", "v0001")
    assert read_pointer(store)["version"] == "v0003"


def test_republishing_the_same_program_for_the_same_week_returns_the_existing_version(store):
    first = publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    again = publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    assert (again.version, again.existing) == (first.version, True)
    assert [v.version for v in list_versions(store)] == ["v0001"]
    other_week = publish_version(store, program("a"), manifest("2026-W46"), "r", promote=True)
    assert other_week.version == "v0002"


def test_crash_after_writing_the_version_leaves_the_old_champion_and_a_rerun_moves_the_pointer(
    store,
):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    # What a run killed between the version rename and the pointer move leaves behind:
    data = dumps(program("b"))
    crashed = {
        **manifest("2026-W46"),
        "version": "v0002",
        "status": "promoted",
        "parent": "v0001",
        "sha256": sha256_bytes(data),
        "created_at": "2026-11-23T00:00:00+00:00",
    }
    store.write_version("v0002", {"program.json": data, "manifest.json": dumps(crashed), "report.md": b"r"})
    assert read_champion(store)[0] == "v0001"
    rerun = publish_version(store, program("b"), manifest("2026-W46"), "r", promote=True)
    assert (rerun.version, rerun.existing, rerun.champion) == ("v0002", True, True)
    assert read_champion(store)[0] == "v0002"
    assert len(list_versions(store)) == 2


def test_a_tampered_program_is_refused_on_load(store):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    (Path(store.root) / "v0001" / "program.json").write_text('{"tampered": true}')
    with pytest.raises(ArtifactError, match=r"v0001 has sha256 .* but its manifest says"):
        read_champion(store)


def test_a_pointer_whose_sha256_disagrees_with_the_version_is_refused(store):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    pointer = read_pointer(store)
    store.replace_file("CHAMPION", dumps({**pointer, "sha256": "0" * 64}))
    with pytest.raises(ArtifactError, match="the champion pointer expects sha256 000000000000"):
        read_champion(store)


def test_rollback_goes_to_the_previous_champion_then_the_one_before(store):
    for i, week in enumerate(["2026-W44", "2026-W45", "2026-W46"]):
        publish_version(store, program(str(i)), manifest(week), "r", promote=True)
    publish_version(store, program("kept"), manifest("2026-W47"), "r", promote=False)
    assert rollback(store, reason="bad labels").version == "v0002"
    assert read_pointer(store) == {
        **read_pointer(store),
        "version": "v0002",
        "reason": "bad labels",
    }
    assert rollback(store).version == "v0001"
    with pytest.raises(ArtifactError, match="v0001 is the first champion"):
        rollback(store)


def test_rollback_to_a_given_version_and_refusals(store):
    for i, week in enumerate(["2026-W44", "2026-W45", "2026-W46"]):
        publish_version(store, program(str(i)), manifest(week), "r", promote=True)
    publish_version(store, program("kept"), manifest("2026-W47"), "r", promote=False)
    assert rollback(store, to="v0001").version == "v0001"
    with pytest.raises(ArtifactError, match="v0001 is already the champion"):
        rollback(store, to="v0001")
    with pytest.raises(ArtifactError, match="v0004 was never champion"):
        rollback(store, to="v0004")
    with pytest.raises(ArtifactError, match="v0009 does not exist"):
        rollback(store, to="v0009")
    with pytest.raises(ArtifactError, match="version must look like v0004, got 'latest'"):
        rollback(store, to="latest")
    # The default rollback undoes the explicit one.
    assert rollback(store).version == "v0003"


def test_rollback_with_no_champion_says_there_is_nothing_to_roll_back(store):
    with pytest.raises(ArtifactError, match="no champion"):
        rollback(store)


def test_history_lists_versions_with_metrics_status_and_the_champion_marker(store):
    publish_version(store, program("a"), manifest("2026-W45", nmse=12.5), "r", promote=True)
    publish_version(store, program("b"), manifest("2026-W46", nmse=11.0, parse_rate=0.9), "r", promote=False)
    publish_version(store, program("c"), manifest("2026-W47", nmse=9.0), "r", promote=False, staged=True)
    rows = [(v.version, v.week, v.status, v.nmse, v.parse_rate, v.champion, v.approved) for v in list_versions(store)]
    assert rows == [
        ("v0001", "2026-W45", "promoted", 12.5, 1.0, True, None),
        ("v0002", "2026-W46", "rejected", 11.0, 0.9, False, None),
        ("v0003", "2026-W47", "staged", 9.0, 1.0, False, None),
    ]


def test_a_staged_version_becomes_champion_only_when_approved(store):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    staged = publish_version(store, program("b"), manifest("2026-W46"), "r", promote=False, staged=True)
    assert read_pointer(store)["version"] == "v0001"
    approved = approve_staged(store, staged.version, reason="looks right")
    assert (approved.champion, approved.approved) == (True, True)
    other = publish_version(store, program("c"), manifest("2026-W47"), "r", promote=False, staged=True)
    rejected = reject_staged(store, other.version, reason="approval timed out")
    assert (rejected.champion, rejected.approved) == (False, False)
    with pytest.raises(ArtifactError, match="already rejected"):
        approve_staged(store, other.version)
    with pytest.raises(ArtifactError, match="v0001 is promoted, not staged"):
        approve_staged(store, "v0001")
    assert rollback(store).version == "v0001"


def test_load_champion_restores_the_published_dspy_program_and_refuses_another_scale(tmp_path):
    from judge.program import RelevanceJudge
    from judge.saving import program_hash
    from judgeflow.config import load_settings

    settings = load_settings(tmp_path, artifacts_url=str(tmp_path / "artifacts"), scale="0-3")
    assert load_champion(settings) is None
    judge = RelevanceJudge(scale="0-3", instruction="Rate how well the passage answers the query.")
    store = ArtifactStore(settings.artifacts)
    publish_version(store, judge, {**manifest("2026-W47"), "scale": "0-3"}, "r", promote=True)
    again = publish_version(
        store,
        RelevanceJudge(scale="0-3", instruction="Rate how well the passage answers the query."),
        {**manifest("2026-W47"), "scale": "0-3"},
        "r",
        promote=True,
    )
    assert again.existing  # saving the same program twice is byte-identical
    loaded, loaded_manifest = load_champion(settings)
    assert program_hash(loaded) == program_hash(judge)
    assert loaded_manifest["version"] == "v0001"
    with pytest.raises(ArtifactError, match="built for scale 0-3, but settings say 1-5"):
        load_champion(settings.model_copy(update={"scale": Scale()}))


def test_build_manifest_records_lm_identity_without_secrets_and_the_decision(store, monkeypatch):
    from judgeflow.config import LMConfig
    from tasks.gate import decide_from_metrics

    monkeypatch.setenv("JUDGE_KEY", "sk-secret")
    lm = LMConfig(
        model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1", api_key_env="JUDGE_KEY", max_tokens=256
    )
    decision = decide_from_metrics(
        {"nmse": 12.0, "parse_rate": 1.0}, {"nmse": 9.0, "parse_rate": 1.0}, (-3.0, -4.0, -2.0)
    )
    built = build_manifest(
        week="2026-w47".upper(),
        scale=Scale(),
        optimizer="gepa",
        optimizer_settings={"max_calls": 300},
        judge_lm=lm,
        reflection_lm=lm,
        data={"annotations": 1200, "test_ids_sha256": "ab" * 32},
        champion_metrics=decision.champion,
        candidate_metrics=decision.candidate,
        decision=decision,
    )
    info = publish_version(store, program("a"), built, "r", promote=decision.promote)
    written = read_version(store, info.version)[1]
    assert written["lms"]["judge"] == {
        "model": "openai/gpt-4o-mini",
        "api_base": "http://127.0.0.1:9/v1",
        "temperature": 0.0,
        "max_tokens": 256,
    }
    assert "sk-secret" not in json.dumps(written) and "JUDGE_KEY" not in json.dumps(written)
    assert written["decision"]["reason"] == decision.reason
    assert read_pointer(store)["reason"] == decision.reason
    assert (written["optimizer"], written["scale"], info.nmse) == (
        {"name": "gepa", "settings": {"max_calls": 300}},
        "1-5",
        9.0,
    )


def test_a_raw_manifest_holding_a_decision_and_a_scale_is_stored_as_plain_json(store):
    from tasks.gate import decide_from_metrics

    decision = decide_from_metrics(
        {"nmse": 12.0, "parse_rate": 1.0}, {"nmse": 9.0, "parse_rate": 1.0}, (-3.0, -4.0, -2.0)
    )
    publish_version(
        store, program("a"), {"week": "2026-W47", "scale": Scale(), "decision": decision}, "r", promote=True
    )
    written = read_version(store, "v0001")[1]
    assert written["scale"] == "1-5"
    assert written["decision"]["thresholds"]["min_gain"] == 0.5
    assert read_pointer(store)["reason"] == decision.reason
