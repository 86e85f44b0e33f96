"""Snapshot of the deployment surface in prefect.yaml: names, schedules, parameters, pools.

These tests read the file and the flows' signatures; they stay away from a Prefect server
(`judgeflow serve` applies the file to one, see tests of the CLI) and from running flows.
"""

from __future__ import annotations

from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "weekly-judge-refresh": {
        "entrypoint": "flows/weekly.py:weekly_judge_refresh",
        "schedules": [{"cron": "0 6 * * 1", "timezone": "UTC", "active": True}],
        "parameters": {
            "week": None,
            "optimizer": "library",
            "dry_run": False,
            "require_approval": False,
            "approval_timeout_s": 86400,
        },
        "concurrency_limit": {"limit": 1, "collision_strategy": "ENQUEUE"},
        "work_pool": {"name": "judgeflow-process", "work_queue_name": "default"},
    },
    "rollback-judge": {
        "entrypoint": "flows/rollback.py:rollback_judge",
        "schedules": [],
        "parameters": {"to_version": None, "reason": "rollback requested from the Prefect UI"},
        "concurrency_limit": {"limit": 1, "collision_strategy": "ENQUEUE"},
        "work_pool": {"name": "judgeflow-process", "work_queue_name": "default"},
    },
}


def _deployments() -> dict[str, dict]:
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in config["deployments"]}


def test_prefect_yaml_declares_exactly_the_weekly_and_rollback_deployments():
    assert sorted(_deployments()) == sorted(EXPECTED)


def test_each_deployment_keeps_its_entrypoint_schedule_parameters_and_pool():
    found = _deployments()
    for name, expected in EXPECTED.items():
        got = {key: found[name].get(key) for key in expected}
        assert got == expected, name


def test_runs_start_in_the_project_folder_named_by_serve():
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    assert config["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $JUDGEFLOW_PROJECT_DIR }}"}}
    ]
    assert config["prefect-version"] == "3.8.8"


def test_every_deployment_parameter_is_a_parameter_of_its_flow():
    from prefect.flows import load_flow_from_entrypoint

    for name, deployment in _deployments().items():
        flow = load_flow_from_entrypoint(str(PROJECT / deployment["entrypoint"]))
        schema = flow.parameters.model_dump()
        unknown = set(deployment["parameters"]) - set(schema["properties"])
        assert not unknown, f"{name}: {unknown}"
        assert not schema.get("required"), f"{name} must run from its schedule without parameters"


def test_the_weekly_run_form_offers_every_knob_the_issue_names():
    from flows.weekly import weekly_judge_refresh

    properties = weekly_judge_refresh.parameters.model_dump()["properties"]
    for knob in ("week", "optimizer", "judge_lm", "reflection_lm", "budget", "gate", "dry_run", "require_approval"):
        assert knob in properties, knob
    definitions = weekly_judge_refresh.parameters.model_dump()["definitions"]
    assert {"min_gain", "max_parse_drop", "max_bucket_regression", "require_significance"} <= set(
        definitions["GateThresholds"]["properties"]
    )
    assert properties["optimizer"]["enum"] == ["library", "bootstrap", "mipro", "gepa"]
