"""Alerts: Slack incoming-webhook messages for every outcome of a run, and who sends them.

The webhook URL is a secret: it comes from ``JUDGEFLOW_SLACK_WEBHOOK_URL`` or the Prefect
Secret block ``judgeflow-slack-webhook`` (judgeflow.config names both), is passed to the
notifier only, and never reaches a log line, a task parameter or a repr. A Slack outage is
logged and never raises: an alert must not fail the flow it reports on. Without a URL the
:class:`ConsoleNotifier` prints the message it would have sent.

Message builders are pure and return a :class:`SlackMessage` (Block Kit blocks plus a text
fallback that says everything on its own).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Protocol, TextIO

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from judgeflow.config import SLACK_WEBHOOK_BLOCK, SLACK_WEBHOOK_ENV
from tasks.gate import Decision

_MAX_ERROR_CHARS = 300


class SlackMessage(BaseModel):
    """What one alert says: ``text`` is the fallback, ``blocks`` the rich layout."""

    kind: str
    text: str
    blocks: list[dict[str, Any]] = Field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


class Notifier(Protocol):
    def send(self, message: SlackMessage) -> bool:
        """Deliver the message; False (logged) when it could not be delivered. Never raises."""
        ...


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("judgeflow.alert")


class SlackWebhookNotifier:
    """POSTs the message's JSON to a Slack incoming webhook."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SlackWebhookNotifier(url=<hidden>, timeout={self.timeout})"

    def send(self, message: SlackMessage) -> bool:
        try:
            response = httpx.post(self._url, json=message.payload(), timeout=self.timeout)
        except Exception as exc:  # httpx.HTTPError, InvalidURL, ...: an alert never fails the run
            # The exception text can carry the URL: log its class only.
            _logger().warning(
                "Slack alert %r not delivered: %s (Slack unreachable)",
                message.kind,
                type(exc).__name__,
            )
            return False
        if response.status_code >= 300:
            _logger().warning("Slack alert %r not delivered: HTTP %s", message.kind, response.status_code)
            return False
        return True


class ConsoleNotifier:
    """Prints what would have been sent (no URL configured) and keeps a record of it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.sent: list[SlackMessage] = []

    def send(self, message: SlackMessage) -> bool:
        self.sent.append(message)
        stream = self.stream or sys.stdout
        print(f"[slack alert, no webhook configured] {message.text}", file=stream)
        return True


def _prefect_api_reachable() -> bool:
    """A Secret block is looked up only with a configured API or inside a run (no temp server)."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value()) or FlowRunContext.get() is not None


def resolve_webhook_url() -> str | None:
    """The webhook URL from the env var, else the Prefect Secret block; None if neither is set."""
    url = os.environ.get(SLACK_WEBHOOK_ENV, "").strip()
    if url:
        return url
    if not _prefect_api_reachable():
        return None
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(SLACK_WEBHOOK_BLOCK).get()
    except Exception:  # no such block, or the API is down: alerts fall back to the console
        return None
    return str(value).strip() or None


def get_notifier(url: str | None = None) -> Notifier:
    """A Slack notifier for ``url`` (default: the configured one), else the console."""
    url = url or resolve_webhook_url()
    return SlackWebhookNotifier(url) if url else ConsoleNotifier()


def current_run_url() -> str | None:
    """The Prefect UI link of the flow run this code runs in; None outside a run or without a UI URL."""
    from prefect.runtime import flow_run

    url = flow_run.ui_url
    return url if url and not url.startswith("None/") else None


# -- message builders --------------------------------------------------------------------------


def _link(run_url: str | None) -> str:
    return f" <{run_url}|Open the flow run>" if run_url else ""


def _build(kind: str, title: str, lines: list[str], run_url: str | None) -> SlackMessage:
    text = f"{title}\n" + "\n".join(lines) + ("\n" + _link(run_url).strip() if run_url else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
    ]
    if run_url:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _link(run_url).strip()}]})
    return SlackMessage(kind=kind, text=text, blocks=blocks)


def _pct(rate: Any) -> str:
    return "n/a" if rate is None else f"{100.0 * float(rate):.1f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1f}"


def comparison_lines(decision: Decision) -> list[str]:
    """NMSE and parse rate, champion vs candidate, with deltas and the delta's 95% interval."""
    lo, hi = decision.delta_nmse_ci
    champ, cand = decision.champion, decision.candidate
    return [
        f"*NMSE*: champion {_num(champ.get('nmse'))} -> candidate {_num(cand.get('nmse'))} "
        f"({decision.delta_nmse:+.1f}, 95% CI {lo:+.1f} to {hi:+.1f})",
        f"*Parse rate*: champion {_pct(champ.get('parse_rate'))} -> candidate {_pct(cand.get('parse_rate'))} "
        f"({decision.parse_rate_delta:+.1f} points)",
        f"*Test examples*: {decision.n}",
        f"*Decision*: {decision.reason}",
    ]


def promoted_message(week: str, decision: Decision, version: str, run_url: str | None = None) -> SlackMessage:
    title = f":white_check_mark: judgeflow {week}: candidate promoted as {version}"
    return _build("promoted", title, comparison_lines(decision), run_url)


def kept_message(
    week: str, decision: Decision, champion_version: str | None = None, run_url: str | None = None
) -> SlackMessage:
    kept = f" ({champion_version})" if champion_version else ""
    title = f":information_source: judgeflow {week}: champion kept{kept}"
    return _build("kept", title, comparison_lines(decision), run_url)


def baseline_message(week: str, version: str, metrics: dict[str, Any], run_url: str | None = None) -> SlackMessage:
    title = f":seedling: judgeflow {week}: baseline published as {version} (first champion)"
    lines = [
        f"*NMSE*: {_num(metrics.get('nmse'))}",
        f"*Parse rate*: {_pct(metrics.get('parse_rate'))}",
        f"*Test examples*: {metrics.get('n', 'n/a')}",
    ]
    return _build("baseline", title, lines, run_url)


def _error_text(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        first = (str(error).strip().splitlines() or [""])[0]
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    else:
        text = str(error).strip()
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def failed_message(week: str, step: str, error: BaseException | str, run_url: str | None = None) -> SlackMessage:
    title = f":x: judgeflow {week}: run failed at step {step}"
    lines = [
        f"*Failed step*: {step}",
        f"*Error*: {_error_text(error)}",
        "The champion pointer was not moved; fix the cause and rerun the week.",
    ]
    return _build("failed", title, lines, run_url)


def validation_failed_message(week: str, failures: list[str] | str, run_url: str | None = None) -> SlackMessage:
    items = [failures] if isinstance(failures, str) else list(failures)
    title = f":warning: judgeflow {week}: validation failed, nothing was loaded"
    lines = [
        f"*Failed expectations*: {len(items)}",
        *[f"- {_error_text(item)}" for item in items[:10]],
    ]
    if len(items) > 10:
        lines.append(f"... and {len(items) - 10} more")
    lines.append("Fix the input files and rerun the week.")
    return _build("validation_failed", title, lines, run_url)


def rollback_message(
    from_version: str | None,
    to_version: str,
    reason: str,
    *,
    week: str | None = None,
    nmse: float | None = None,
    parse_rate: float | None = None,
    run_url: str | None = None,
) -> SlackMessage:
    title = f":rewind: judgeflow champion rolled back from {from_version or 'none'} to {to_version}"
    lines = [f"*Reason*: {reason}"]
    if week:
        lines.append(f"*{to_version} was published for*: {week}")
    lines.append(f"*{to_version} NMSE*: {_num(nmse)}, parse rate {_pct(parse_rate)}")
    return _build("rollback", title, lines, run_url)


def crashed_message(week: str | None, run_name: str | None = None, run_url: str | None = None) -> SlackMessage:
    name = f" {run_name}" if run_name else ""
    title = f":rotating_light: judgeflow run{name} crashed (week {week or 'unknown'})"
    lines = [
        "The process died (killed, out of memory or lost).",
        "The champion pointer only ever points at complete versions; rerun the week to resume.",
    ]
    return _build("crashed", title, lines, run_url)


def send_alert(message: SlackMessage, notifier: Notifier | None = None) -> bool:
    """Send through ``notifier`` (default: the configured one); never raises."""
    try:
        return (notifier or get_notifier()).send(message)
    except Exception as exc:  # a broken notifier must not fail the run either
        _logger().warning("alert %r not delivered: %s", message.kind, type(exc).__name__)
        return False


@task(name="send-alert", cache_policy=NO_CACHE)
def alert_task(message: SlackMessage) -> bool:
    """Send the run's alert to Slack (or the console when no webhook is configured)."""
    return send_alert(message)
