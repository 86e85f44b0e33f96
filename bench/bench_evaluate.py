"""Evaluation engine throughput against a loopback OpenAI server with a fixed 200 ms latency.

For concurrency 1, 4, 16 and 64: examples/s of ``tasks.evaluate.evaluate_program`` next to the
limit (concurrency / latency) and next to ``dspy.Evaluate`` with the same thread count on the
same examples, in the same run. Then the client's own ceiling (the same engine against a
zero-latency server) says which side binds at high concurrency. Last, a second evaluation of
the same program: its LM calls (target 0) and its time as a fraction of the first (target < 5%).

    python -m bench evaluate [--quick]      # or: python bench/bench_evaluate.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

LATENCY = 0.2
CONCURRENCIES = (1, 4, 16, 64)
BENCH = "evaluate"
REPO = Path(__file__).resolve().parent.parent


@contextmanager
def fake_server(latency: float) -> Iterator[str]:
    """A fake OpenAI server in its own process, stopped on exit; yields its api_base."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--latency", str(latency)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        found = re.search(r"(http://\S+)", line)
        if not found:
            raise RuntimeError(f"the fake server did not print its api_base (exit {proc.poll()}): {line!r}")
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _stats(api_base: str, *, reset: bool = False) -> dict:
    """The server's {"calls", "max_in_flight", "in_flight"}; ``reset`` restarts max_in_flight."""
    url, method = (f"{api_base}/stats/reset", "POST") if reset else (f"{api_base}/stats", "GET")
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
        return json.loads(response.read())


def _examples(n: int, tag: str) -> list:
    from judge.types import JudgeExample

    return [
        JudgeExample(id=f"{tag}-{i}", query=f"{tag} query {i}", document=f"document {i} about topic {i % 7}", gold=1 + i % 5)
        for i in range(n)
    ]


def _engine(api_base: str, items, concurrency: int, con, *, use_cache: bool = False) -> tuple[float, int]:
    from judge.program import RelevanceJudge
    from judge.scale import Scale
    from judgeflow.config import LMConfig
    from tasks.evaluate import evaluate_program

    cfg = LMConfig(model="openai/fake-judge", api_base=api_base, local=False, timeout_s=30.0, concurrency=concurrency)
    before = _stats(api_base)["calls"]
    started = time.perf_counter()
    result = evaluate_program(RelevanceJudge(), items, cfg, scale=Scale(), con=con, use_cache=use_cache, progress=False, label="bench")
    seconds = time.perf_counter() - started
    assert result.n_lm_errors == 0, "the fake server should never fail in this benchmark"
    return seconds, _stats(api_base)["calls"] - before


def _dspy_evaluate(api_base: str, items, threads: int) -> float:
    import dspy

    from judge.program import RelevanceJudge

    devset = [
        dspy.Example(query=e.query, document=e.document, title="", doc_type="", modified_at="", gold=e.gold).with_inputs(
            "query", "document", "title", "doc_type", "modified_at"
        )
        for e in items
    ]
    lm = dspy.LM("openai/fake-judge", engine="litellm", api_base=api_base, api_key="x", cache=False, num_retries=0, max_tokens=256, temperature=0.0)
    evaluate = dspy.Evaluate(devset=devset, metric=lambda gold, pred, trace=None: 1.0, num_threads=threads, display_progress=False, max_errors=len(devset))
    started = time.perf_counter()
    with dspy.context(lm=lm):
        evaluate(RelevanceJudge())
    return time.perf_counter() - started


def run(quick: bool = False) -> list[dict]:
    import logging
    import warnings

    from judgeflow.store import connect

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.getLogger("judgeflow.evaluate").setLevel(logging.WARNING)
    rows: list[dict] = []
    per_thread = 6 if quick else 40  # 8 s per run: ramp-up and tail are a small share
    with tempfile.TemporaryDirectory() as tmp, fake_server(LATENCY) as api_base:
        db = connect(Path(tmp) / "bench.duckdb")  # one store for the run, as in a flow
        _engine(api_base, _examples(4, "warm"), 4, db)  # imports and first connections, not measured
        _dspy_evaluate(api_base, _examples(4, "warm"), 4)
        for c in CONCURRENCIES:
            n = c * per_thread // (2 if c >= 64 else 1)
            items = _examples(n, f"c{c}")
            _stats(api_base, reset=True)
            seconds, calls = _engine(api_base, items, c, db)
            in_flight = _stats(api_base)["max_in_flight"]
            dspy_seconds = _dspy_evaluate(api_base, items, c)
            limit = c / LATENCY
            rate, dspy_rate = n / seconds, n / dspy_seconds
            rows.append({
                "benchmark": BENCH,
                "metric": f"examples/s at concurrency {c}",
                "value": round(rate, 1),
                "target": f">= {0.95 * limit:.0f} (0.95 x limit {limit:.0f})",
                "note": (
                    f"ratio {rate / limit:.2f} of limit; server saw at most {in_flight} in flight (cap {c}); "
                    f"dspy.Evaluate {dspy_rate:.1f}/s ({dspy_rate / limit:.2f}); {n} examples, {calls} calls"
                ),
            })
        rows.append(_client_ceiling(quick))
        rows.extend(_second_run(api_base, db, quick))
        db.close()
    return rows


def _client_ceiling(quick: bool) -> dict:
    from judgeflow.store import connect

    n = 100 if quick else 300
    with tempfile.TemporaryDirectory() as tmp, fake_server(0.0) as api_base:
        con = connect(Path(tmp) / "c.duckdb")
        seconds, _ = _engine(api_base, _examples(n, "ceiling"), 16, con)
        con.close()
    rate = n / seconds
    binds = "client (Python + litellm CPU)" if rate < 64 / LATENCY else "endpoint"
    return {
        "benchmark": BENCH,
        "metric": "client ceiling, examples/s at zero latency",
        "value": round(rate, 1),
        "target": "> 320 for c=64 to reach its limit",
        "note": f"{1000 / rate:.1f} ms of client time per example; at concurrency 64 the {binds} binds",
    }


def _second_run(api_base: str, db, quick: bool) -> list[dict]:
    n, c = (120, 16) if quick else (400, 16)
    items = _examples(n, "again")
    first, first_calls = _engine(api_base, items, c, db, use_cache=True)
    second, second_calls = _engine(api_base, items, c, db, use_cache=True)
    return [
        {
            "benchmark": BENCH,
            "metric": "LM calls in a second evaluation of the same program",
            "value": second_calls,
            "target": "0",
            "note": f"first evaluation made {first_calls} calls on {n} examples",
        },
        {
            "benchmark": BENCH,
            "metric": "second evaluation time / first",
            "value": round(second / first, 4),
            "target": "< 0.05",
            "note": f"{second * 1000:.0f} ms vs {first:.2f} s ({n} examples, concurrency {c})",
        },
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.__main__ import to_markdown

    print(to_markdown(run(quick="--quick" in sys.argv)))
