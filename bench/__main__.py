"""Run every benchmark and print one markdown table of figures.

    python -m bench            # full size (minutes)
    python -m bench --quick    # small sizes, a smoke run
    python -m bench ingest     # only bench/bench_ingest.py

Each bench/bench_*.py module exposes ``run(quick: bool) -> list[dict]`` with rows
{"benchmark", "metric", "value", "target", "note"}. Timings live here, never in tests.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

COLUMNS = ("benchmark", "metric", "value", "target", "note")


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def to_markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [format_value(row.get(c, "")).replace("|", "/") for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(discover())})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    names = args.names or discover()
    rows: list[dict] = []
    failed = 0
    for name in names:
        started = time.perf_counter()
        print(f"running bench_{name} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            rows.extend(module.run(quick=args.quick))
        except Exception as exc:
            failed += 1
            traceback.print_exc()
            rows.append({"benchmark": name, "metric": "error", "value": type(exc).__name__, "note": str(exc)[:120]})
        print(f"bench_{name} took {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(to_markdown(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
