"""Evaluation engine throughput against a loopback OpenAI server with a fixed 200 ms latency.

For concurrency 1, 4, 16 and 64: examples/s of ``tasks.evaluate.evaluate_program`` next to the
limit (concurrency / latency) and next to ``dspy.Evaluate`` with the same thread count on the
same examples, in the same run. Then the client's own ceiling (the same engine against a
zero-latency server) says which side binds at high concurrency. Last, a second evaluation of
the same program: its LM calls (target 0) and its time as a fraction of the first (target < 5%).

    python -m bench evaluate [--quick]      # or: python bench/bench_evaluate.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

LATENCY = 0.2
CONCURRENCIES = (1, 4, 16, 64)
BENCH = "evaluate"


def _examples(n: int, tag: str) -> list:
    from judge.types import JudgeExample

    return [
        JudgeExample(id=f"{tag}-{i}", query=f"{tag} query {i}", document=f"document {i} about topic {i % 7}", gold=1 + i % 5)
        for i in range(n)
    ]


def _engine(server, items, concurrency: int, con, *, use_cache: bool = False) -> tuple[float, int]:
    from judge.program import RelevanceJudge
    from judge.scale import Scale
    from judgeflow.config import LMConfig
    from tasks.evaluate import evaluate_program

    cfg = LMConfig(model="openai/fake-judge", api_base=server.api_base, local=False, timeout_s=30.0, concurrency=concurrency)
    before = server.calls
    started = time.perf_counter()
    result = evaluate_program(RelevanceJudge(), items, cfg, scale=Scale(), con=con, use_cache=use_cache, progress=False, label="bench")
    seconds = time.perf_counter() - started
    assert result.n_lm_errors == 0, "the fake server should never fail in this benchmark"
    return seconds, server.calls - before


def _dspy_evaluate(server, items, threads: int) -> float:
    import dspy

    from judge.program import RelevanceJudge

    devset = [
        dspy.Example(query=e.query, document=e.document, title="", doc_type="", modified_at="", gold=e.gold).with_inputs(
            "query", "document", "title", "doc_type", "modified_at"
        )
        for e in items
    ]
    lm = dspy.LM("openai/fake-judge", engine="litellm", api_base=server.api_base, api_key="x", cache=False, num_retries=0, max_tokens=256, temperature=0.0)
    evaluate = dspy.Evaluate(devset=devset, metric=lambda gold, pred, trace=None: 1.0, num_threads=threads, display_progress=False, max_errors=len(devset))
    started = time.perf_counter()
    with dspy.context(lm=lm):
        evaluate(RelevanceJudge())
    return time.perf_counter() - started


def run(quick: bool = False) -> list[dict]:
    import logging
    import warnings

    from judgeflow.store import connect
    from tests.fakes.openai_server import FakeOpenAIServer, valid_answer

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.getLogger("judgeflow.evaluate").setLevel(logging.WARNING)
    rows: list[dict] = []
    per_thread = 6 if quick else 20
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(valid_answer(4), latency=LATENCY) as server:
        db = connect(Path(tmp) / "bench.duckdb")  # one store for the run, as in a flow
        _engine(server, _examples(4, "warm"), 4, db)  # imports and first connections, not measured
        _dspy_evaluate(server, _examples(4, "warm"), 4)
        for c in CONCURRENCIES:
            n = c * per_thread // (2 if c >= 64 else 1)
            items = _examples(n, f"c{c}")
            seconds, calls = _engine(server, items, c, db)
            dspy_seconds = _dspy_evaluate(server, items, c)
            limit = c / LATENCY
            rate, dspy_rate = n / seconds, n / dspy_seconds
            rows.append({
                "benchmark": BENCH,
                "metric": f"examples/s at concurrency {c}",
                "value": round(rate, 1),
                "target": f">= {0.95 * limit:.0f} (0.95 x limit {limit:.0f})",
                "note": f"ratio {rate / limit:.2f} of limit; dspy.Evaluate {dspy_rate:.1f}/s ({dspy_rate / limit:.2f}); {n} examples, {calls} calls",
            })
        rows.append(_client_ceiling(quick))
        rows.extend(_second_run(server, db, quick))
        db.close()
    return rows


def _client_ceiling(quick: bool) -> dict:
    from judgeflow.store import connect
    from tests.fakes.openai_server import FakeOpenAIServer, valid_answer

    n = 100 if quick else 300
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(valid_answer(4), latency=0.0) as server:
        con = connect(Path(tmp) / "c.duckdb")
        seconds, _ = _engine(server, _examples(n, "ceiling"), 16, con)
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


def _second_run(server, db, quick: bool) -> list[dict]:
    n, c = (120, 16) if quick else (400, 16)
    items = _examples(n, "again")
    first, first_calls = _engine(server, items, c, db, use_cache=True)
    second, second_calls = _engine(server, items, c, db, use_cache=True)
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
