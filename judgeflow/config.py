"""One place that resolves configuration into typed settings.

Precedence, highest first: explicit overrides (CLI flags, flow parameters), environment
variables (``JUDGEFLOW_*``), the project file ``judgeflow.toml`` in the working directory,
then the defaults below. Secrets are named once here and resolved lazily so they never sit
in a settings dump, a log line or a stored row.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from judge.scale import Scale

PROJECT_FILE = "judgeflow.toml"

# Every secret's name, once.
SLACK_WEBHOOK_ENV = "JUDGEFLOW_SLACK_WEBHOOK_URL"
SLACK_WEBHOOK_BLOCK = "judgeflow-slack-webhook"

LOCAL_MODEL_ALIAS = "gemma3-270m-local"
LOCAL_MODEL = f"openai/{LOCAL_MODEL_ALIAS}"
LOCAL_DEFAULT_PORT = 8765


class LMConfig(BaseModel):
    """How to reach one language model through litellm.

    ``api_key_env`` names the environment variable (or Prefect Secret block, see
    ``judge.lm.resolve_api_key``) that holds the key: the key itself is never configured,
    stored or logged.
    """

    model_config = ConfigDict(frozen=True)

    model: str = LOCAL_MODEL
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.0
    # A JSON verdict needs ~40-60 tokens; the base Gemma model echoes the prompt until the cap,
    # so a small cap bounds the cost of a malformed answer (still counted as truncated_output).
    max_tokens: int = 128
    timeout_s: float = 60.0
    max_retries: int = 4
    concurrency: int = 4
    local: bool = True  # judgeflow starts and stops the embedded llama.cpp server itself
    # Send the answer's JSON schema as response_format (grammar-constrained decoding where the
    # server supports it). Off by default: it makes format failures impossible rather than
    # measured, so the parse rate no longer says anything about the prompt.
    constrained_json: bool = False

    def identity(self) -> dict[str, Any]:
        """What makes two LMs the same for caching and manifests (no secrets)."""
        identity: dict[str, Any] = {
            "model": self.model,
            "api_base": self.api_base,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.constrained_json:  # only when on, so unconstrained cache keys stay as they were
            identity["constrained_json"] = True
        return identity


class Settings(BaseModel):
    """Typed project settings; build them with :func:`load_settings`."""

    home: Path = Path(".judgeflow")
    db_path: Path | None = None
    artifacts_url: str | None = None
    scale: Scale = Field(default_factory=Scale)
    timezone: str = "UTC"
    max_document_chars: int = 200_000
    quarantine_threshold: float = 0.05
    split_ratios: tuple[float, float, float] = (0.70, 0.15, 0.15)
    judge_lm: LMConfig = Field(default_factory=LMConfig)
    reflection_lm: LMConfig = Field(default_factory=LMConfig)
    local_model_port: int = LOCAL_DEFAULT_PORT

    @field_validator("scale", mode="before")
    @classmethod
    def _parse_scale(cls, value: Any) -> Scale:
        if isinstance(value, str):
            return Scale.parse(value)
        return value

    @field_validator("quarantine_threshold")
    @classmethod
    def _check_threshold(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"quarantine_threshold must be a fraction 0-1, got {value!r}")
        return value

    @field_validator("split_ratios")
    @classmethod
    def _check_ratios(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 for r in value) or abs(sum(value) - 1.0) > 1e-6:
            raise ValueError(f"split_ratios must be three non-negative fractions summing to 1, got {value!r}")
        return value

    @property
    def database(self) -> Path:
        return self.db_path or self.home / "judgeflow.duckdb"

    @property
    def artifacts(self) -> str:
        return self.artifacts_url or str(self.home / "artifacts")


_ENV = {
    "JUDGEFLOW_HOME": "home",
    "JUDGEFLOW_DB": "db_path",
    "JUDGEFLOW_ARTIFACTS": "artifacts_url",
    "JUDGEFLOW_SCALE": "scale",
    "JUDGEFLOW_TIMEZONE": "timezone",
    "JUDGEFLOW_MAX_DOCUMENT_CHARS": "max_document_chars",
    "JUDGEFLOW_QUARANTINE_THRESHOLD": "quarantine_threshold",
    "JUDGEFLOW_LOCAL_MODEL_PORT": "local_model_port",
}


def _project_file(cwd: Path) -> dict[str, Any]:
    path = cwd / PROJECT_FILE
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return dict(data.get("judgeflow", data))


def load_settings(cwd: Path | None = None, **overrides: Any) -> Settings:
    """Resolve settings from overrides > env vars > judgeflow.toml > defaults.

    Overrides whose value is None are ignored, so CLI options can be passed straight in.
    """
    values: dict[str, Any] = _project_file(cwd or Path.cwd())
    for env_name, key in _ENV.items():
        if os.environ.get(env_name):
            values[key] = os.environ[env_name]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(values)
