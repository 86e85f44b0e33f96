"""Typed flow parameters: the Prefect UI renders these pydantic models as the Run form.

Every field has a default and a description, so a scheduled run needs no parameters and a
person starting a run from the UI sees what each knob does. Nothing here holds a secret: an
LM's API key is named by the environment variable (or Prefect Secret block) that holds it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from judgeflow.config import LMConfig, Settings

Optimizer = Literal["library", "bootstrap", "mipro", "gepa"]


class LMParams(BaseModel):
    """Which language model to use for one role; empty fields keep the configured value."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="litellm model string, e.g. openai/gpt-4o-mini; empty = judgeflow.toml / the local Gemma model")
    api_base: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8765/v1")
    api_key_env: str | None = Field(None, description="Name of the env var or Prefect Secret block holding the API key (never the key itself)")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="Sampling temperature")
    max_tokens: int | None = Field(None, ge=1, le=32_000, description="Always sent to the LM")
    concurrency: int | None = Field(None, ge=1, le=256, description="Parallel calls during evaluation")
    timeout_s: float | None = Field(None, gt=0, le=3600, description="Seconds before one call is abandoned")
    max_retries: int | None = Field(None, ge=0, le=20, description="Retries of one call on 429/5xx/timeouts")
    constrained_json: bool | None = Field(
        None,
        description="Send the answer's JSON schema as response_format (constrained decoding); "
        "format failures then stop being measured",
    )

    def resolve(self, base: LMConfig) -> LMConfig:
        """The configured LM with this form's non-empty fields laid over it."""
        updates = {k: v for k, v in self.model_dump().items() if v is not None}
        if "model" in updates and "local" not in updates:
            # A model named in the form is an outside endpoint unless it is the local alias.
            updates["local"] = updates["model"] == base.model and base.local
        return base.model_copy(update=updates)


class BudgetParams(BaseModel):
    """Hard caps on the optimizer's paid work."""

    model_config = ConfigDict(extra="forbid")

    max_calls: int = Field(300, ge=1, le=1_000_000, description="LM calls the optimizer may make (judge + reflection)")
    max_cost_usd: float | None = Field(None, ge=0.0, description="Stop at this estimated cost when the LM's price is known")
    seed: int = Field(0, description="Seed for the optimizer and its sampling")


def apply_lm_params(settings: Settings, judge_lm: LMParams, reflection_lm: LMParams) -> Settings:
    """Settings with the form's LM choices applied to both roles."""
    return settings.model_copy(
        update={
            "judge_lm": judge_lm.resolve(settings.judge_lm),
            "reflection_lm": reflection_lm.resolve(settings.reflection_lm),
        }
    )
