"""The evaluation engine's run: workers, retries, the cache as results arrive, storage, scoring.

tasks/evaluate.py is the entry point (``evaluate_program``, ``evaluate_task``); this module
holds one run's mechanics. Only the calling thread touches the DuckDB connection.

When the judge LM's requests go through the endpoint gate (``judge.gate``), the pool has a few
more threads than the concurrency and the gate caps the requests in flight at ``concurrency``:
each example's client CPU then overlaps the other examples' waits instead of idling the wire.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import dspy

from judge.gate import endpoint_limit, gated_api_base, slot_wait_seconds
from judge.lm import Usage, track_usage
from judge.scale import Scale
from judge.types import JudgeExample, JudgeOutput
from judgeflow.errors import JudgeflowError
from tasks.evaluation import store
from tasks.evaluation.progress import Progress, run_logger
from tasks.evaluation.retry import RetryPolicy, is_lm_error, is_retryable

CACHE_FLUSH_EVERY = 64  # cached outputs are written in batches of this size (or every 2 s)


class LMErrorRateExceeded(JudgeflowError):  # noqa: N818 - the name other modules catch
    """Too many examples failed at the LM endpoint for the metrics to mean anything."""


@dataclass(frozen=True)
class EvalResult:
    """One evaluation: outputs aligned with the examples, metrics over non-lm_error rows."""

    run_id: str
    outputs: list[JudgeOutput]
    metrics: dict[str, Any]
    n_lm_errors: int
    calls: int  # LM HTTP calls actually made (retries included)
    cache_hits: int
    seconds: float
    program_hash: str
    lm_identity: str
    example_ids: list[str] = field(default_factory=list)
    golds: list[int | None] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)  # tokens and cost spent by this run
    label: str = ""
    split: str | None = None
    week: str | None = None

    @property
    def n(self) -> int:
        return len(self.outputs)

    @property
    def n_parse_errors(self) -> int:
        return sum(o.status == "parse_error" for o in self.outputs)


def worker_plan(lm: Any, concurrency: int) -> tuple[int, str | None]:
    """(worker threads, gated api_base) for judging with ``lm`` at ``concurrency``.

    Gated: the gate holds requests in flight at ``concurrency``, so extra threads can do their
    ~6-7 ms of client CPU (prompt formatting, litellm and SDK processing, parsing) while the
    slots are busy. A thread spends cpu/(cpu + latency) of its time outside a slot: about 3%
    at 200 ms, i.e. ~2 threads' worth at concurrency 64. ``concurrency // 4`` leaves ample
    room for GIL stalls and slower parsing, and the floor of 2 lets one thread prepare the next
    request while another parses an answer at concurrency 1. More threads only add GIL
    contention. Not gated: one thread per slot, the threads themselves being the cap.

    An LM with a CallBudget is not gated either: its calls are charged before they wait for a
    slot, so when the budget runs out and the run stops, calls already charged by the extra
    threads would still be sent and their answers lost instead of cached.
    """
    api_base = None if getattr(lm, "budget", None) is not None else gated_api_base(lm)
    if api_base is None:
        return concurrency, None
    return concurrency + max(2, concurrency // 4), api_base


def judge_with_retries(program: Any, example: JudgeExample, lm: dspy.LM, retry: RetryPolicy) -> JudgeOutput:
    """One example: retry transient LM failures, then give up as an lm_error output.

    Errors that are not LM endpoint errors (a bug, a spent CallBudget) propagate.
    """
    from judge.program import judge_one

    rng = random.Random()
    attempt = 0
    while True:
        try:
            with dspy.context(lm=lm):
                return judge_one(program, example)
        except Exception as exc:
            if not is_lm_error(exc):
                raise
            if attempt >= retry.max_retries or not is_retryable(exc):
                return JudgeOutput(status="lm_error", error_kind=type(exc).__name__, raw=None, explanation=_first_line(exc))
            time.sleep(retry.delay(attempt, exc, rng))
            attempt += 1


class Run:
    """The state of one evaluation while it runs (only the calling thread touches ``con``)."""

    def __init__(self, *, program, examples, scale, con, program_hash, identity, lm, retry, label, split, week):
        self.program, self.examples, self.scale, self.con = program, examples, scale, con
        self.program_hash, self.identity, self.lm, self.retry = program_hash, identity, lm, retry
        self.label, self.split, self.week = label, split, week
        self.run_id = uuid.uuid4().hex
        self.hashes = [store.content_hash(e) for e in examples]
        self.keys = [store.cache_key(program_hash, identity, str(scale), h) for h in self.hashes]
        self.logger = run_logger()

    def execute(self, *, concurrency: int, use_cache: bool, threshold: float, progress: bool, endpoint: str) -> EvalResult:
        started = time.perf_counter()
        store.open_run(
            self.con,
            run_id=self.run_id,
            label=self.label,
            program_hash=self.program_hash,
            lm_identity=self.identity,
            split=self.split,
            week=self.week,
            scale=str(self.scale),
            n_examples=len(self.examples),
        )
        try:
            cached = store.load_cached(self.con, self.keys) if use_cache else {}
            bar = Progress(len(self.examples), label=self.label or "evaluate", enabled=progress)
            bar.advance(sum(k in cached for k in self.keys), cached=sum(k in cached for k in self.keys))
            fresh = self._judge_missing(cached, concurrency, bar, use_cache)
            bar.close()
            return self._finish(cached, fresh, started, threshold, endpoint)
        except LMErrorRateExceeded:
            raise  # the run and its predictions are already stored as failed
        except BaseException as exc:
            store.fail_run(self.con, self.run_id, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
            raise

    def _judge_missing(self, cached, concurrency, bar, use_cache) -> dict[str, tuple[JudgeOutput, Usage, float]]:
        """Judge each distinct missing key once; flush cache entries as they arrive."""
        todo: dict[str, JudgeExample] = {}
        for key, example in zip(self.keys, self.examples, strict=True):
            if key not in cached and key not in todo:
                todo[key] = example
        results: dict[str, tuple[JudgeOutput, Usage, float]] = {}
        if not todo:
            return results
        hashes = dict(zip(self.keys, self.hashes, strict=True))
        copies = Counter(self.keys) if len(todo) < len(self.examples) else {}
        pending_cache: list[store.CacheEntry] = []
        last_flush = time.perf_counter()
        stop = threading.Event()
        finished: queue.SimpleQueue[Future] = queue.SimpleQueue()  # O(1) per result, unlike wait()
        threads, gated = worker_plan(self.lm, concurrency)
        with endpoint_limit(gated, concurrency) if gated else nullcontext():
            pool = ThreadPoolExecutor(max_workers=min(threads, len(todo)), thread_name_prefix="judge")
            try:
                futures: dict[Future, str] = {}
                for key, example in todo.items():
                    future = pool.submit(self._one, example, stop)
                    futures[future] = key
                    future.add_done_callback(finished.put)
                for _ in range(len(futures)):
                    future = self._next(finished, pending_cache)
                    key = futures[future]
                    output, usage, seconds = future.result()  # a non-LM error propagates here
                    results[key] = (output, usage, seconds)
                    if use_cache and output.status != "lm_error":
                        pending_cache.append(store.CacheEntry(key, hashes[key], output))
                    n = copies.get(key, 1)
                    bar.advance(n, lm_errors=n if output.status == "lm_error" else 0)
                    if len(pending_cache) >= CACHE_FLUSH_EVERY or time.perf_counter() - last_flush > 2:
                        self._flush(pending_cache)
                        last_flush = time.perf_counter()
            except BaseException:
                stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            finally:
                self._flush(pending_cache)  # keep paid work even when the run fails
            pool.shutdown(wait=True)
        return results

    def _next(self, finished: queue.SimpleQueue, pending_cache: list[store.CacheEntry]) -> Future:
        """The next finished future; flush the cache while waiting for a slow one."""
        while True:
            try:
                return finished.get(timeout=2.0)
            except queue.Empty:
                self._flush(pending_cache)

    def _one(self, example: JudgeExample, stop: threading.Event) -> tuple[JudgeOutput, Usage, float]:
        if stop.is_set():
            raise RuntimeError("evaluation stopped")
        started, waited = time.perf_counter(), slot_wait_seconds()
        with track_usage() as usage:
            output = judge_with_retries(self.program, example, self.lm, self.retry)
        # The example's own time: its calls and retry waits, not its queueing for a gate slot.
        return output, usage, time.perf_counter() - started - (slot_wait_seconds() - waited)

    def _flush(self, entries: list[store.CacheEntry]) -> None:
        if entries:
            store.save_cached(self.con, entries, program_hash=self.program_hash, lm_identity=self.identity)
            entries.clear()

    def _finish(self, cached, fresh, started, threshold, endpoint) -> EvalResult:
        outputs: list[JudgeOutput] = []
        rows: list[dict[str, Any]] = []
        total = Usage(cost=0.0)
        seen_fresh: set[str] = set()
        for example, key in zip(self.examples, self.keys, strict=True):
            if key in cached:
                output, usage, latency, was_cached = cached[key], Usage(), None, True
            else:
                output, usage, latency = fresh[key]
                was_cached = key in seen_fresh  # a duplicate of an example judged in this run
                if was_cached:
                    usage, latency = Usage(), None
                seen_fresh.add(key)
                output = replace(output, usage={**output.usage, **_usage_fields(usage)}) if not was_cached else output
            total.add(usage)
            outputs.append(output)
            rows.append(self._row(example, key, output, usage, latency, was_cached))
        n = len(outputs)
        n_lm = sum(o.status == "lm_error" for o in outputs)
        metrics = score(outputs, self.examples, self.scale)
        seconds = time.perf_counter() - started
        failed = n > 0 and n_lm / n > threshold
        error = _rate_message(n_lm, n, threshold, endpoint, outputs) if failed else None
        summary = {
            "n_ok": sum(o.status == "ok" for o in outputs),
            "n_parse_errors": sum(o.status == "parse_error" for o in outputs),
            "n_lm_errors": n_lm,
            "calls": total.calls,
            "cache_hits": sum(r["cached"] for r in rows),
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "cost": total.cost,
            "seconds": seconds,
            "metrics": json.dumps(metrics, default=_json_default),
            "status": "failed" if failed else "completed",
            "error": error,
        }
        store.finish_run(self.con, run_id=self.run_id, predictions=rows, summary=summary)
        if failed:
            self.logger.error(error)
            raise LMErrorRateExceeded(error)
        self.logger.info(
            "%s: %d examples, %d LM calls, %d cached, %d lm_errors, %.1f s",
            self.label or "evaluate", n, total.calls, summary["cache_hits"], n_lm, seconds,
        )
        return EvalResult(
            run_id=self.run_id,
            outputs=outputs,
            metrics=metrics,
            n_lm_errors=n_lm,
            calls=total.calls,
            cache_hits=summary["cache_hits"],
            seconds=seconds,
            program_hash=self.program_hash,
            lm_identity=self.identity,
            example_ids=[e.id for e in self.examples],
            golds=[e.gold for e in self.examples],
            usage=total.as_dict(),
            label=self.label,
            split=self.split,
            week=self.week,
        )

    def _row(self, example, key, output, usage, latency, was_cached) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "example_id": example.id,
            "program_hash": self.program_hash,
            "lm_identity": self.identity,
            "split": self.split,
            "week": self.week,
            "gold": example.gold,
            "status": output.status,
            "rating": output.rating,
            "explanation": output.explanation,
            "error_kind": output.error_kind,
            "raw": output.raw,
            "reasoning": output.reasoning,
            "samples": json.dumps(list(output.samples)) if output.samples else None,
            "spread": output.spread,
            "latency_s": latency,
            "calls": usage.calls,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost": usage.cost,
            "cached": was_cached,
            "cache_key": key,
        }


def score(outputs: Sequence[JudgeOutput], examples: Sequence[JudgeExample], scale: Scale) -> dict[str, Any]:
    """judge.metrics over labelled, non-lm_error rows (lm_error rows are counted, not scored)."""
    from judge.metrics import compute_metrics

    pairs = [
        (o.rating if o.status == "ok" else None, e.gold)
        for o, e in zip(outputs, examples, strict=True)
        if o.status != "lm_error" and e.gold is not None
    ]
    if not pairs:
        return {"scale": str(scale), "n": 0}
    preds, golds = zip(*pairs, strict=True)
    return compute_metrics(list(preds), list(golds), scale)


def _usage_fields(usage: Usage) -> dict[str, float]:
    fields = {
        "calls": usage.calls,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }
    if usage.cost is not None:
        fields["cost"] = usage.cost
    return fields


def _rate_message(n_lm: int, n: int, threshold: float, endpoint: str, outputs: Sequence[JudgeOutput]) -> str:
    kinds: dict[str, int] = {}
    for o in outputs:
        if o.status == "lm_error":
            kinds[o.error_kind or "?"] = kinds.get(o.error_kind or "?", 0) + 1
    top = ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:3])
    return (
        f"{n_lm} of {n} examples ({100 * n_lm / n:.1f}%) failed at the LM endpoint {endpoint} ({top}); "
        f"more than the {100 * threshold:.1f}% allowed; check the endpoint"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return str(value)

