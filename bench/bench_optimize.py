"""LM calls and wall time per optimizer at a fixed call budget, against the loopback fake LM.

The fake (tests/fakes/instruction_lm.py) rewards the recency rule and demos, so each row also
shows whether the optimizer earned anything (dev NMSE and parse rate before -> after).
Target: calls used <= the budget for every optimizer.

    python -m bench optimize [--quick]
    python bench/bench_optimize.py --quick
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OPTIMIZERS = ("library", "bootstrap", "gepa", "mipro")
LIBRARY_RULES = (
    ("title", "A title match alone is not relevance."),
    ("recency", "Rate outdated documents at most 2 when the query asks for current information."),
    ("format", "Never add text before or after the JSON object."),
)


def _library(folder: Path) -> str:
    import json

    path = folder / "library.jsonl"
    path.write_text("\n".join(
        json.dumps({"id": i, "text": t, "provenance": "bench", "author": "bench", "date": "2026-11-16", "version": 1})
        for i, t in LIBRARY_RULES
    ))
    return str(path)


def run_one(optimizer: str, budget: int, n_train: int, n_dev: int, latency: float) -> dict:
    from judge.program import RelevanceJudge
    from judgeflow.config import LMConfig
    from judgeflow.store import connect
    from tasks.optimize import optimize_program
    from tasks.optimizers.context import OptimizeSettings
    from tasks.optimizers.data import SplitSet
    from tests.fakes.instruction_lm import InstructionSensitiveLM, synthetic_split
    from tests.fakes.openai_server import FakeOpenAIServer

    train, train_cases = synthetic_split("train", n_train)
    dev, dev_cases = synthetic_split("dev", n_dev, outdated_every=2, fragile_every=3)
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(
        InstructionSensitiveLM(train_cases + dev_cases), latency=latency
    ) as server:
        folder = Path(tmp)
        judge = LMConfig(model="openai/bench-judge", api_base=server.api_base, local=False, concurrency=4, max_retries=0)
        reflection = LMConfig(model="openai/bench-reflect", api_base=server.api_base, local=False, max_retries=0)
        con = connect(folder / "bench.duckdb")
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # dspy's progress bars would land in the table
            result = optimize_program(
                RelevanceJudge(scale="1-5"),
                trainset=SplitSet("train", "2026-W47", tuple(train)),
                valset=SplitSet("dev", "2026-W47", tuple(dev)),
                test_keys=frozenset(),
                settings=OptimizeSettings(optimizer=optimizer, budget_calls=budget, num_threads=4,
                                          library_path=_library(folder)),
                judge_cfg=judge, reflection_cfg=reflection, con=con, home=folder / "home",
            )
        seconds = time.perf_counter() - started
        con.close()
    return {"result": result, "seconds": seconds, "server_calls": server.calls}


def run(quick: bool = False) -> list[dict]:
    budget, n_train, n_dev, latency = (60, 8, 6, 0.0) if quick else (300, 40, 20, 0.05)
    rows: list[dict] = []
    run_one("bootstrap", 4, 2, 2, 0.0)  # warm-up: imports and litellm's first call, not timed
    for optimizer in OPTIMIZERS:
        out = run_one(optimizer, budget, n_train, n_dev, latency)
        result = out["result"]
        by_role = result.calls["by_role"]
        note = (
            f"judge {by_role.get('judge', {}).get('calls', 0)}, reflection {by_role.get('reflection', {}).get('calls', 0)}; "
            f"dev NMSE {result.dev_before['nmse']:.1f} -> {result.dev_after['nmse']:.1f}, "
            f"parse {result.dev_before['parse_rate']:.2f} -> {result.dev_after['parse_rate']:.2f}; "
            f"stopped {result.stopped}; train {n_train} dev {n_dev}, latency {latency * 1000:.0f} ms"
        )
        rows.append({"benchmark": f"optimize-{optimizer}", "metric": "LM calls (search)",
                     "value": result.calls["used"], "target": f"<= {budget}", "note": note})
        rows.append({"benchmark": f"optimize-{optimizer}", "metric": "wall s (incl. dev scoring)",
                     "value": round(out["seconds"], 2), "target": "", "note": f"{out['server_calls']} HTTP calls in all"})
    return rows


if __name__ == "__main__":
    from bench.__main__ import to_markdown

    print(to_markdown(run(quick="--quick" in sys.argv)))
