"""Alerts: message content, delivery to a loopback Slack receiver, and outages that never raise.

Stays away from Prefect's server (the Secret-block lookup is covered by the flow tests) and
from real Slack: every payload goes to tests/fakes/slack_receiver.py on 127.0.0.1.
"""

from __future__ import annotations

import io
import logging
import time

import pytest

from judgeflow.config import SLACK_WEBHOOK_ENV
from tasks.alert import (
    ConsoleNotifier,
    SlackWebhookNotifier,
    baseline_message,
    crashed_message,
    current_run_url,
    failed_message,
    get_notifier,
    kept_message,
    promoted_message,
    resolve_webhook_url,
    rollback_message,
    send_alert,
    validation_failed_message,
)
from tasks.gate import GateThresholds, decide_from_metrics
from tests.fakes.slack_receiver import SlackReceiver

RUN_URL = "http://127.0.0.1:4200/runs/flow-run/1234"


def promoted_decision():
    return decide_from_metrics(
        {"n": 120, "nmse": 12.0, "parse_rate": 0.96, "nmse_by_gold": {}},
        {"n": 120, "nmse": 9.6, "parse_rate": 1.0, "nmse_by_gold": {}},
        (-2.4, -3.9, -0.8),
    )


def kept_decision():
    return decide_from_metrics(
        {"n": 120, "nmse": 12.0, "parse_rate": 1.0, "nmse_by_gold": {}},
        {"n": 120, "nmse": 10.0, "parse_rate": 0.969, "nmse_by_gold": {}},
        (-2.0, -3.0, -1.0),
        GateThresholds(),
    )


def test_promoted_message_carries_week_both_nmse_and_parse_rates_with_deltas_ci_reason_and_link():
    message = promoted_message("2026-W47", promoted_decision(), "v0004", RUN_URL)
    text = message.text
    assert "2026-W47" in text and "v0004" in text
    assert "champion 12.0 -> candidate 9.6 (-2.4, 95% CI -3.9 to -0.8)" in text
    assert "champion 96.0% -> candidate 100.0% (+4.0 points)" in text
    assert "promoted: NMSE fell 2.4 points (95% CI -3.9 to -0.8), parse rate +4.0 points." in text
    assert f"<{RUN_URL}|Open the flow run>" in text
    payload = message.payload()
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context"]
    assert payload["blocks"][1]["text"]["text"].startswith("*NMSE*: champion 12.0")


def test_kept_message_names_the_failed_check_and_the_kept_champion():
    message = kept_message("2026-W47", kept_decision(), "v0003")
    assert "champion kept (v0003)" in message.text
    assert "kept: parse rate fell 3.1 points, more than the 0.0 allowed." in message.text
    assert "Open the flow run" not in message.text
    assert [b["type"] for b in message.blocks] == ["header", "section"]


def test_failed_message_names_the_step_and_the_error_and_truncates_a_long_error():
    message = failed_message("2026-W47", "evaluate-champion", ConnectionError("endpoint 127.0.0.1:9 refused\ntrace..."))
    assert "run failed at step evaluate-champion" in message.text
    assert "ConnectionError: endpoint 127.0.0.1:9 refused" in message.text
    assert "trace..." not in message.text
    long = failed_message("2026-W47", "optimize", "x" * 1000)
    assert "x" * 297 + "..." in long.text and "x" * 298 not in long.text


def test_validation_failed_rollback_crashed_and_baseline_messages_say_what_happened():
    validation = validation_failed_message("2026-W47", ["rating in 1-5: 12 rows outside", "query not null: 3 rows"])
    assert "validation failed" in validation.text and "rating in 1-5: 12 rows outside" in validation.text
    assert "*Failed expectations*: 2" in validation.text
    rolled = rollback_message("v0004", "v0002", "bad labels in W47", week="2026-W45", nmse=11.25, parse_rate=0.975)
    assert "rolled back from v0004 to v0002" in rolled.text
    assert "bad labels in W47" in rolled.text and "NMSE*: 11.2" in rolled.text and "97.5%" in rolled.text
    crashed = crashed_message("2026-W47", "brave-otter", RUN_URL)
    assert "brave-otter crashed (week 2026-W47)" in crashed.text and RUN_URL in crashed.text
    baseline = baseline_message("2026-W45", "v0001", {"nmse": 14.0, "parse_rate": 0.5, "n": 40})
    assert "baseline published as v0001" in baseline.text and "50.0%" in baseline.text
    assert {m.kind for m in (validation, rolled, crashed, baseline)} == {
        "validation_failed",
        "rollback",
        "crashed",
        "baseline",
    }


def test_webhook_notifier_posts_the_payload_the_receiver_records():
    message = promoted_message("2026-W47", promoted_decision(), "v0004", RUN_URL)
    with SlackReceiver() as slack:
        assert SlackWebhookNotifier(slack.url).send(message) is True
    assert slack.payloads == [message.payload()]
    assert slack.paths == ["/services/T000/B000/secret-token"]


@pytest.mark.parametrize("outage", ["error", "refused", "slow"])
def test_a_slack_outage_is_logged_without_the_url_and_never_raises(outage, caplog):
    slack = SlackReceiver(mode="error" if outage == "error" else "slow", delay=2.0).start()
    if outage == "refused":
        slack.stop()
    notifier = SlackWebhookNotifier(slack.url, timeout=0.3)
    caplog.set_level(logging.WARNING, logger="judgeflow.alert")
    started = time.monotonic()
    try:
        assert send_alert(crashed_message("2026-W47"), notifier) is False
    finally:
        slack.stop()
    assert time.monotonic() - started < 1.5
    assert "not delivered" in caplog.text
    assert "secret-token" not in caplog.text and str(slack.port) not in caplog.text
    assert "secret-token" not in repr(notifier)


def test_without_a_url_the_console_notifier_prints_the_message_it_would_have_sent(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "")  # no Prefect API: the Secret block is not consulted
    assert resolve_webhook_url() is None
    notifier = get_notifier()
    assert isinstance(notifier, ConsoleNotifier)
    notifier.stream = io.StringIO()
    message = kept_message("2026-W47", kept_decision())
    assert send_alert(message, notifier) is True
    assert notifier.stream.getvalue().startswith("[slack alert, no webhook configured] :information_source:")
    assert notifier.sent == [message]


def test_the_env_var_url_selects_the_webhook_notifier(monkeypatch):
    with SlackReceiver() as slack:
        monkeypatch.setenv(SLACK_WEBHOOK_ENV, slack.url)
        assert resolve_webhook_url() == slack.url
        assert send_alert(crashed_message("2026-W47")) is True
    assert slack.payloads[0]["text"].startswith(":rotating_light:")


def test_a_notifier_that_raises_does_not_fail_the_caller(caplog):
    class Broken:
        def send(self, message):
            raise RuntimeError("boom")

    caplog.set_level(logging.WARNING, logger="judgeflow.alert")
    assert send_alert(crashed_message("2026-W47"), Broken()) is False
    assert "RuntimeError" in caplog.text


def test_outside_a_flow_run_there_is_no_run_link():
    assert current_run_url() is None


def test_a_malformed_webhook_url_is_logged_without_the_url_and_does_not_raise(caplog):
    caplog.set_level(logging.WARNING, logger="judgeflow.alert")
    notifier = SlackWebhookNotifier("http://[bad-host-secret-token/x", timeout=0.3)
    assert notifier.send(crashed_message("2026-W47")) is False
    assert "not delivered" in caplog.text and "secret-token" not in caplog.text
