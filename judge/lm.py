"""The LM client: every call goes through litellm, is metered per role and may be budgeted.

``build_lm(cfg, role=...)`` returns a :class:`MeteredLM`, a ``dspy.LM`` on the litellm engine
that counts each HTTP call (failed ones too), its tokens and its cost into

- the process-wide meter of its role (``usage_by_role()``: "judge", "reflection", ...),
- the per-example usage the evaluation engine opens with :func:`track_usage`,
- an optional :class:`CallBudget` that refuses the call past its limit (GEPA/MIPRO need a
  hard call budget).

dspy's retries and cache are off (``num_retries=0``, ``cache=False``): the evaluation engine
retries itself (it honours Retry-After, which dspy 3.4.1 drops from litellm's 429s) and keys
its own cache on the endpoint (dspy's cache key ignores ``api_base``).

``build_lm`` also installs the endpoint concurrency gate (``judge.gate``) into litellm before
the first call, so the engine can cap requests in flight at the wire.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

import dspy

from judge import gate
from judgeflow.config import LMConfig
from judgeflow.errors import InputError, JudgeflowError

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
NO_KEY = "not-needed"  # what a local OpenAI-compatible server accepts as a key


class BudgetExhausted(JudgeflowError):  # noqa: N818 - the name other modules catch
    """The call budget attached to an LM is spent; the caller must stop asking."""


class CallBudget:
    """A hard limit on LM calls, shared by every LM (and copy) it is attached to."""

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InputError(f"a call budget must be a non-negative integer, got {limit!r}")
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def charge(self) -> None:
        """Count one call, or raise BudgetExhausted if the limit is reached."""
        with self._lock:
            if self.used >= self.limit:
                raise BudgetExhausted(
                    f"the LM call budget of {self.limit} calls is spent; raise the budget or stop here"
                )
            self.used += 1

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def __deepcopy__(self, memo: dict) -> CallBudget:
        return self  # copies of a program share one budget

    def __repr__(self) -> str:
        return f"CallBudget(limit={self.limit}, used={self.used})"


@dataclass
class Usage:
    """LM usage summed over calls. ``cost`` is None once any call's price is unknown."""

    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    seconds: float = 0.0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.failed_calls += other.failed_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        self.seconds += other.seconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UsageMeter:
    """A thread-safe running total of one role's LM usage."""

    def __init__(self, role: str) -> None:
        self.role = role
        self._total = Usage()
        self._lock = threading.Lock()

    def record(self, usage: Usage) -> None:
        with self._lock:
            self._total.add(usage)

    def snapshot(self) -> Usage:
        with self._lock:
            return Usage(**asdict(self._total))

    def reset(self) -> None:
        with self._lock:
            self._total = Usage()

    def __deepcopy__(self, memo: dict) -> UsageMeter:
        return self


_METERS: dict[str, UsageMeter] = {}
_METERS_LOCK = threading.Lock()
_CURRENT: ContextVar[Usage | None] = ContextVar("judgeflow_lm_usage", default=None)


def usage_meter(role: str) -> UsageMeter:
    """The process-wide meter of one role, created on first use."""
    with _METERS_LOCK:
        return _METERS.setdefault(role, UsageMeter(role))


def usage_by_role() -> dict[str, dict[str, Any]]:
    """{role: usage totals} for every role that has an LM in this process."""
    with _METERS_LOCK:
        meters = list(_METERS.values())
    return {m.role: m.snapshot().as_dict() for m in meters}


@contextmanager
def track_usage() -> Iterator[Usage]:
    """Collect the usage of the LM calls made in this thread/context (one example's calls)."""
    usage = Usage()
    token = _CURRENT.set(usage)
    try:
        yield usage
    finally:
        _CURRENT.reset(token)


class _OneCallTracker:
    """Receives dspy's usage report for exactly one call, and passes it on to an outer tracker."""

    def __init__(self, outer: Any) -> None:
        self.outer = outer
        self.usage: dict[str, Any] = {}

    def add_usage(self, lm: str, usage: dict[str, Any]) -> None:
        for key in ("prompt_tokens", "completion_tokens"):
            self.usage[key] = self.usage.get(key, 0) + int(usage.get(key) or 0)
        if self.outer is not None:
            self.outer.add_usage(lm, usage)


class MeteredLM(dspy.LM):
    """A dspy.LM that meters every call and charges its budget before sending it."""

    def __init__(
        self,
        model: str,
        *,
        role: str = "judge",
        budget: CallBudget | None = None,
        free: bool = False,
        fold_system: bool = False,
        response_schema: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, **kwargs)
        self.role = role
        self.meter = usage_meter(role)
        self.budget = budget
        self.free = free  # a local model: cost 0 rather than unknown
        self.fold_system = fold_system  # the endpoint drops system messages (llama.cpp's gemma format)
        # None, or how to send the answer's JSON schema (judge.adapter.response_format):
        # "llama_cpp" ({"type": "json_object", "schema": ...}) or "openai" (json_schema).
        self.response_schema = response_schema

    @contextmanager
    def _metered(self, messages: Any) -> Iterator[Any]:
        """Charge the budget, fold system messages if needed, and record one call's usage."""
        if self.budget is not None:
            self.budget.charge()
        if self.fold_system and messages:
            messages = fold_system_messages(messages)
        tracker = _OneCallTracker(dspy.settings.usage_tracker)
        started = time.perf_counter()
        failed = True
        try:
            with dspy.context(usage_tracker=tracker):
                yield messages
            failed = False
        finally:
            self._record(tracker.usage, time.perf_counter() - started, failed)

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        with self._metered(messages) as sent:
            return super().__call__(prompt, messages=sent, **kwargs)

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        with self._metered(messages) as sent:
            return await super().acall(prompt, messages=sent, **kwargs)

    def _record(self, tokens: dict[str, int], seconds: float, failed: bool) -> None:
        prompt_tokens = tokens.get("prompt_tokens", 0)
        completion_tokens = tokens.get("completion_tokens", 0)
        usage = Usage(
            calls=1,
            failed_calls=int(failed),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=0.0 if self.free or failed else price(self.model, prompt_tokens, completion_tokens),
            seconds=seconds,
        )
        self.meter.record(usage)
        current = _CURRENT.get()
        if current is not None:
            current.add(usage)


def fold_system_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move system text into the first user message, for endpoints that drop the system role.

    llama-cpp-python's ``gemma`` chat format discards system messages silently, and dspy
    puts the whole instruction, field list and answer format there.
    """
    system = [m for m in messages if m.get("role") == "system" and isinstance(m.get("content"), str)]
    if not system:
        return messages
    rest = [m for m in messages if m not in system]
    prefix = "\n\n".join(m["content"] for m in system)
    for index, message in enumerate(rest):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            rest[index] = {**message, "content": f"{prefix}\n\n{message['content']}"}
            return rest
    return [{"role": "user", "content": prefix}, *rest]


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """The call's cost in USD from litellm's local price map, or None for an unknown model."""
    import litellm

    if not _in_price_map(model):
        return None
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # litellm raises several kinds for "not in the map"
        return None
    return float(prompt_cost) + float(completion_cost)


@functools.cache
def _in_price_map(model: str) -> bool:
    """Whether litellm's local price map knows ``model``, asked once per model and process.

    For a model it does not know (a self-hosted or fake one), litellm's lookup walks every
    fallback generalisation of the name, about 0.5 ms of CPU per call at a judge's call rate.
    """
    import litellm

    try:
        litellm.cost_per_token(model=model, prompt_tokens=1, completion_tokens=1)
    except Exception:  # litellm raises several kinds for "not in the map"
        return False
    return True


def is_local_endpoint(cfg: LMConfig) -> bool:
    """True for the embedded model or any api_base on this machine."""
    if cfg.local:
        return True
    return bool(cfg.api_base) and (urlparse(cfg.api_base).hostname or "") in LOCAL_HOSTS


def secret_block_name(env_name: str) -> str:
    """The Prefect Secret block that may hold the key named by ``env_name``."""
    return env_name.strip().lower().replace("_", "-")


def resolve_api_key(cfg: LMConfig, *, secret_loader: Callable[[str], str | None] | None = None) -> str | None:
    """The key for ``cfg``: env var, else Prefect Secret block, else "not-needed" locally.

    Returns None when no key is configured for a hosted provider without api_base, so
    litellm reads the provider's own variable (OPENAI_API_KEY, ...). Never logged or stored.
    ``secret_loader(block_name)`` replaces the Prefect Secret lookup (tests pass a fake).
    """
    if cfg.api_key_env:
        value = os.environ.get(cfg.api_key_env)
        if value:
            return value
        value = (secret_loader or load_secret_block)(secret_block_name(cfg.api_key_env))
        if value:
            return value
        if is_local_endpoint(cfg):
            return NO_KEY
        raise InputError(
            f"no API key for {cfg.model!r}: set the environment variable {cfg.api_key_env} "
            f"or create a Prefect Secret block named {secret_block_name(cfg.api_key_env)!r}"
        )
    if is_local_endpoint(cfg) or cfg.api_base:
        return NO_KEY
    return None


def load_secret_block(name: str) -> str | None:
    """The value of the Prefect Secret block ``name``, or None if absent or unreachable."""
    try:
        from prefect.blocks.system import Secret

        return str(Secret.load(name).get())
    except Exception:  # no such block, or no Prefect API reachable
        return None


def lm_identity(cfg: LMConfig) -> str:
    """What makes two LMs answer alike: model, endpoint and decoding parameters (no key).

    Used in cache keys, stored rows and manifests.
    """
    identity = dict(cfg.identity())
    if identity.get("api_base"):
        identity["api_base"] = str(identity["api_base"]).rstrip("/")
    if cfg.local:
        identity["fold_system"] = True  # the local model sees the instruction in the user turn
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


def build_lm(
    cfg: LMConfig,
    *,
    role: str = "judge",
    budget: CallBudget | None = None,
    **extra: Any,
) -> MeteredLM:
    """A metered dspy.LM on litellm for ``cfg``; ``extra`` goes to every request.

    ``max_tokens`` is always sent (llama.cpp ignores ``max_completion_tokens`` and would
    generate up to its context size). The embedded model needs ``cfg.api_base`` set first:
    see ``judge.local_model.with_local_endpoint``.
    """
    if cfg.local and not cfg.api_base:
        raise InputError(
            f"the local model {cfg.model!r} has no api_base yet; start it with "
            "judge.local_model.with_local_endpoint(settings, cfg) or `judgeflow lm serve`"
        )
    if cfg.max_tokens <= 0:
        raise InputError(f"max_tokens must be a positive integer, got {cfg.max_tokens!r}")
    if cfg.timeout_s <= 0:
        raise InputError(f"timeout_s must be positive seconds, got {cfg.timeout_s!r}")
    options: dict[str, Any] = {"api_key": resolve_api_key(cfg), "timeout": cfg.timeout_s}
    if cfg.api_base:
        options["api_base"] = cfg.api_base
    options.update(extra)
    gate.install()  # before litellm caches an OpenAI SDK client built on another http client
    return MeteredLM(
        cfg.model,
        role=role,
        budget=budget,
        free=cfg.local,
        fold_system=cfg.local,
        response_schema=("llama_cpp" if cfg.local else "openai") if cfg.constrained_json else None,
        engine="litellm",
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        cache=False,
        num_retries=0,
        **options,
    )
