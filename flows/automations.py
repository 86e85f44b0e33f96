"""The crash alert that survives a killed process: a Prefect automation on the server.

In-process hooks (flows/hooks.py) cannot fire when the flow process is SIGKILLed or OOM-killed;
the server notices the run crashed and emits `prefect.flow-run.Crashed`. This automation
turns that event into a Slack-shaped webhook call. The webhook URL lives in a Webhook block
(a SecretStr), never in the automation or a log line.
"""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import UUID

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook

CRASH_AUTOMATION = "judgeflow-crashed-run"
CRASH_WEBHOOK_BLOCK = "judgeflow-crash-webhook"
WATCHED_FLOWS = ("weekly-judge-refresh", "rollback-judge")

# Jinja rendered by the server; every value is an identifier or a URL, so the JSON stays valid.
CRASH_PAYLOAD = json.dumps(
    {
        "text": (
            ":rotating_light: judgeflow run *{{ flow_run.name }}* of `{{ flow.name }}` crashed "
            "(the process died: killed, out of memory or lost). Week {{ flow_run.parameters.week }}. "
            "The champion pointer was not moved by this run; rerun the week to resume. "
            "Flow run id {{ flow_run.id }}."
            "{% if flow_run|ui_url %} <{{ flow_run|ui_url }}|Open the run>{% endif %}"
        )
    }
)


def crash_automation(webhook_block_id: UUID) -> Automation:
    """The automation definition: a Crashed event of a judgeflow flow -> call the webhook."""
    return Automation(
        name=CRASH_AUTOMATION,
        description="Alert Slack when a judgeflow flow run crashes (in-process hooks cannot).",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": list(WATCHED_FLOWS)},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=webhook_block_id, payload=CRASH_PAYLOAD)],
    )


def ensure_crash_automation(webhook_url: str) -> UUID:
    """Save the webhook block and (re)create the crash automation; return the automation id."""
    block_id = Webhook(method="POST", url=webhook_url).save(CRASH_WEBHOOK_BLOCK, overwrite=True)
    try:
        Automation.read(name=CRASH_AUTOMATION).delete()
    except ValueError:
        pass  # not created yet
    return crash_automation(block_id).create().id
