"""The crash alert that needs no flow process: a server-side automation posting to Slack.

A run is marked Crashed through the API, as a worker does when its flow process is killed;
the automation on the session's Prefect server must post the message to a loopback Slack
receiver. The test stays away from killing real processes (test_crash_resume.py does that).
"""

from __future__ import annotations

import time

import pytest

from tests.fakes.slack_receiver import SlackReceiver

pytestmark = pytest.mark.prefect_server


def test_a_crashed_weekly_run_triggers_the_server_automation_that_posts_to_slack(prefect_api):
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed, Running

    from flows.automations import CRASH_AUTOMATION, ensure_crash_automation
    from flows.weekly import weekly_judge_refresh

    with SlackReceiver() as slack:
        ensure_crash_automation(slack.url)
        automation = Automation.read(name=CRASH_AUTOMATION)
        assert automation.trigger.expect == {"prefect.flow-run.Crashed"}
        assert slack.url not in automation.model_dump_json()  # the URL sits in a secret block only

        with get_client(sync_client=True) as client:
            run = client.create_flow_run(weekly_judge_refresh, parameters={"week": "2026-W46"})
            client.set_flow_run_state(run.id, Running(), force=True)
            client.set_flow_run_state(run.id, Crashed(message="process killed (SIGKILL)"), force=True)
        deadline = time.monotonic() + 60
        while not slack.payloads and time.monotonic() < deadline:
            time.sleep(0.5)

    assert slack.payloads, "the automation posted nothing within 60 s"
    text = slack.payloads[0]["text"]
    assert text.startswith(f":rotating_light: judgeflow run *{run.name}* of `weekly-judge-refresh` crashed")
    assert "Week 2026-W46" in text
    assert str(run.id) in text
