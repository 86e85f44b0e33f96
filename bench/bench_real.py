"""Real human labels: the embedded local judge on a query-grouped sample of the LLMJudge dev set.

    python -m bench.bench_real            # full: >= 500 test pairs (long: ~1-2 s per LM call)
    python -m bench.bench_real --quick    # ~40 test pairs, a smoke run

The data is read from ../shared/data relative to the repository and never copied into it: the
sample, the DuckDB store and the evaluation cache live in a work folder outside the repository
(JUDGEFLOW_BENCH_REAL_DIR, default <tmp>/judgeflow-bench-real). The evaluation engine caches
every prediction there, so an interrupted full run resumes where it stopped; calls and wall time
are summed over the runs that actually called the model (ledger.json).

Steps: seeded sample of k pairs per query (k chosen so the test split holds the target) ->
`judgeflow ingest --field-map rating=label --scale 0-3` -> sticky per-query splits -> baseline
judge, the optimized judge and the calibrated baseline on the test split, next to the constant
predictors and the published reference points. The table goes to .bench/real_data.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "llmjudge_dev.jsonl.gz"
WEEK = "2026-W01"
SCALE = "0-3"
SEED = 2024
RATIOS = (0.3, 0.1, 0.6)  # by query; the test split carries the evaluation
PORT = 8791  # its own llama.cpp server, apart from other runs on the default port
BENCH = "real_data"
SIZES = {
    True: {"test_pairs": 40, "train_fit": 8, "dev_select": 4, "budget": 12},
    False: {"test_pairs": 500, "train_fit": 30, "dev_select": 6, "budget": 30},
}
REFERENCES = [
    ("published: best kappa (LLMJudge test, 42 runs)", 0.286, "GPT-4o; arXiv 2502.13908; test set, not this dev sample"),
    ("published: best NMSE (LLMJudge test)", 9.98, "100*MSE/9; arXiv 2502.13908; test set"),
    ("published: label-mean constant NMSE (LLMJudge test)", 10.74, "arXiv 2502.13908; most runs are worse"),
]


def work_dir(quick: bool) -> Path:
    base = Path(os.environ.get("JUDGEFLOW_BENCH_REAL_DIR") or Path(tempfile.gettempdir()) / "judgeflow-bench-real")
    return base / ("quick" if quick else "full")


def read_rows() -> list[dict[str, Any]]:
    if not DATA.exists():
        raise FileNotFoundError(f"{DATA} is missing: the real-data bench reads ../shared/data/llmjudge_dev.jsonl.gz")
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sample_pairs(rows: list[dict[str, Any]], test_pairs: int) -> tuple[list[dict[str, Any]], int]:
    """k seeded pairs per query, k the smallest that gives the test split ``test_pairs``."""
    from tasks.split import query_key, split_for_key

    by_query: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_query[row["query"]].append(row)
    test_queries = [q for q in by_query if split_for_key(query_key(q), RATIOS) == "test"]
    if not test_queries:
        raise RuntimeError(f"no query falls in the test split with ratios {RATIOS}")
    k = math.ceil(test_pairs / len(test_queries))
    sample = []
    for query in sorted(by_query):
        pairs = sorted(by_query[query], key=lambda r: r["doc_id"])
        sample.extend(random.Random(f"{SEED}:{query}").sample(pairs, min(k, len(pairs))))
    return sample, k


def ingest_sample(sample: list[dict[str, Any]], work: Path, db: Path) -> dict[str, Any]:
    """Write the sample outside the repo and ingest it through the `judgeflow ingest` command."""
    source = work / "sample.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample), encoding="utf-8")
    script = Path(sys.executable).with_name("judgeflow")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from judgeflow.cli import main; main()"]
    command += ["ingest", "--week", WEEK, "--annotations", str(source), "--field-map", "rating=label",
                "--scale", SCALE, "--db", str(db), "--json"]
    env = {**os.environ, "JUDGEFLOW_HOME": str(work / "home")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"judgeflow ingest failed: {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(done.stdout)


class Ledger:
    """Calls and seconds per judge, summed over the runs that actually called the model."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}

    def add(self, label: str, result: Any) -> dict[str, float]:
        entry = self.data.setdefault(label, {"calls": 0, "seconds": 0.0})
        if result.calls:
            entry["calls"] += result.calls
            entry["seconds"] += result.seconds
            self.save()
        return entry

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2))


def optimized_program(baseline: Any, con: Any, train: list[Any], dev: list[Any], lm_cfg: Any, budget: int) -> tuple[Any, str]:
    """tasks/optimize.py in library mode (no reflection LM needed) within ``budget`` calls."""
    from tasks.optimize import optimize_program
    from tasks.optimizers.context import OptimizeSettings
    from tasks.optimizers.data import SplitSet, test_query_keys

    result = optimize_program(
        baseline,
        trainset=SplitSet("train", WEEK, tuple(train)),
        valset=SplitSet("dev", WEEK, tuple(dev)),
        test_keys=test_query_keys(con, WEEK),
        settings=OptimizeSettings(optimizer="library", budget_calls=budget, seed=SEED, num_threads=1),
        judge_cfg=lm_cfg,
        reflection_cfg=lm_cfg,
        con=con,
    )
    before, after = result.dev_before.get("nmse"), result.dev_after.get("nmse")
    note = (
        f"library mode on {len(dev)} dev pairs: bullets {result.chosen_bullets or 'none'}, stopped {result.stopped}, "
        f"{result.calls.get('used')} search calls of {budget}; dev NMSE {_fmt(before)} -> {_fmt(after)}"
    )
    return result.candidate, note


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def metric_rows(label: str, metrics: dict[str, Any], cost: dict[str, float] | None, n: int, note: str) -> list[dict]:
    rows = []
    targets = {"nmse": "< 10.74 (label-mean constant, paper)", "kappa": "> 0 (0.29 best published)"}
    for key in ("nmse", "nmse_parsed", "parse_rate", "kappa", "qwk", "pearson"):
        if key in metrics:
            rows.append({"benchmark": BENCH, "metric": f"{label}: {key}", "value": _round(metrics[key]),
                         "target": targets.get(key, ""), "note": f"n={n}; {note}"})
    if cost is not None:
        rows.append({"benchmark": BENCH, "metric": f"{label}: LM calls", "value": int(cost["calls"]), "target": "",
                     "note": f"n={n}; summed over the runs that called the model"})
        rows.append({"benchmark": BENCH, "metric": f"{label}: wall s", "value": round(cost["seconds"], 1), "target": "",
                     "note": f"{cost['seconds'] / max(cost['calls'], 1):.2f} s per call; local Gemma 3 270M, 2 cores"})
    return rows


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def with_parsed_nmse(metrics: dict[str, Any], outputs: list[Any], examples: list[Any], span: int) -> dict[str, Any]:
    parsed = [(o.rating, e.gold) for o, e in zip(outputs, examples, strict=True) if o.status == "ok"]
    if parsed:
        metrics = {**metrics, "nmse_parsed": 100 * sum((p - g) ** 2 for p, g in parsed) / len(parsed) / span**2}
    return metrics


def constant_rows(train: list[Any], test: list[Any], scale: Any) -> list[dict]:
    from judge.metrics import compute_metrics

    golds = [e.gold for e in test]
    mean = sum(e.gold for e in train) / len(train)
    nmse_mean = 100 * sum((mean - g) ** 2 for g in golds) / len(golds) / scale.span**2
    zero = compute_metrics([scale.lo] * len(golds), golds, scale)
    note = f"n={len(golds)}; no LM"
    return [
        {"benchmark": BENCH, "metric": "constant train-split mean: nmse", "value": _round(nmse_mean), "target": "",
         "note": f"{note}; mean {mean:.3f} of {len(train)} train labels; kappa 0, Pearson undefined"},
        {"benchmark": BENCH, "metric": "constant always 0: nmse", "value": _round(zero["nmse"]), "target": "", "note": note},
        {"benchmark": BENCH, "metric": "constant always 0: kappa", "value": _round(zero["kappa"]), "target": "", "note": note},
    ]


def run(quick: bool = False) -> list[dict]:
    """The whole benchmark; the table is rewritten after every chunk of test pairs, labelled with n."""
    from judge.local_model import with_local_endpoint
    from judge.program import RelevanceJudge
    from judge.saving import program_hash
    from judge.scale import Scale
    from judgeflow.config import load_settings
    from judgeflow.store import open_store
    from tasks.calibrate import fit_on_train
    from tasks.evaluate import LMErrorRateExceeded, evaluate_program
    from tasks.split import assign_splits, load_examples

    sizes, work = SIZES[quick], work_dir(quick)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.duckdb"
    sample, k = sample_pairs(read_rows(), sizes["test_pairs"])
    summary = ingest_sample(sample, work, db)
    scale = Scale.parse(SCALE)
    settings = load_settings(home=work / "home", db_path=db, scale=SCALE, local_model_port=PORT)
    # The base model rambles to any limit: cap answers at MAX_TOKENS (a JSON answer needs ~40).
    lm_cfg = with_local_endpoint(settings, settings.judge_lm.model_copy(update={"max_tokens": MAX_TOKENS, "concurrency": 1}))
    ledger = Ledger(work / "ledger.json")
    head: list[dict] = []
    ann = summary["annotations"]
    head.append({"benchmark": BENCH, "metric": "pairs ingested", "value": ann["ingested"], "target": "",
                 "note": f"read {ann['read']}, quarantined {ann['quarantined']} {ann.get('reasons') or ''}; {k} per query, seed {SEED}"})
    with open_store(db) as con:
        assign_splits(con, WEEK, RATIOS)
        train, dev, test = (load_examples(con, s, WEEK) for s in ("train", "dev", "test"))
        test = random.Random(SEED).sample(sorted(test, key=lambda e: e.id), len(test))  # any prefix mixes queries
        head.append({"benchmark": BENCH, "metric": "test pairs in the split", "value": len(test), "target": f">= {sizes['test_pairs']}",
                     "note": f"{len({e.query for e in test})} test queries; train {len(train)}, dev {len(dev)} pairs; split by query {RATIOS}"})

        def evaluate(program: Any, examples: list[Any], label: str) -> Any:
            started = time.perf_counter()
            result = evaluate_program(program, examples, lm_cfg, scale=scale, con=con, week=WEEK, label=label,
                                      concurrency=1, progress=False)
            print(f"{label}: {len(examples)} examples, {result.calls} calls, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)
            return result

        baseline = RelevanceJudge(scale=scale)
        # Calibration: fitted on baseline outputs for train pairs only, applied to its test outputs.
        fit_rows = random.Random(SEED).sample(sorted(train, key=lambda e: e.id), min(sizes["train_fit"], len(train)))
        calibrator, cal_note = None, ""

        def fit_judge(examples: list[Any]) -> list[Any]:
            result = evaluate(baseline, examples, "calibration-fit")
            ledger.add("calibration fit", result)
            return list(result.outputs)

        try:
            calibrator = fit_on_train(con, WEEK, fit_judge, scale, examples=fit_rows)
            mapping = {round(x, 2): round(y, 2) for x, y in zip(calibrator.x, calibrator.y, strict=True)}
            cal_note = f"isotonic map {mapping} fitted on {calibrator.n_fit} parsed of {len(fit_rows)} train pairs"
        except (ValueError, LMErrorRateExceeded) as exc:
            cal_note = f"not fitted: {str(exc)[:140]}"
        dev_select = random.Random(SEED).sample(sorted(dev, key=lambda e: e.id), min(sizes["dev_select"], len(dev)))
        started = time.perf_counter()
        program, how = optimized_program(baseline, con, train, dev_select, lm_cfg, sizes["budget"])
        ledger.data["optimization wall s"] = ledger.data.get("optimization wall s") or time.perf_counter() - started
        ledger.save()
        if program_hash(program) == program_hash(baseline):
            how += "; the candidate IS the baseline (nothing helped on dev), so its test outputs replay the baseline's"
        outputs: dict[str, list[Any]] = {"baseline": [], "optimized": []}
        rows: list[dict] = []
        for start in range(0, len(test), CHUNK):
            chunk = test[start : start + CHUNK]
            try:
                result = evaluate(baseline, chunk, "baseline")
                ledger.add("baseline", result)
                outputs["baseline"] += result.outputs
                result = evaluate(program, chunk, "optimized")
                ledger.add("optimized", result)
                outputs["optimized"] += result.outputs
            except LMErrorRateExceeded as exc:
                head.append({"benchmark": BENCH, "metric": "error", "value": "LMErrorRateExceeded", "target": "", "note": str(exc)[:160]})
                break
            done = test[: len(outputs["baseline"])]
            rows = head + table_rows(done, train, outputs, calibrator, cal_note, how, ledger, scale)
            write_table(rows, quick)
    return rows


CHUNK = 25
MAX_TOKENS = 64


def table_rows(done: list[Any], train: list[Any], outputs: dict[str, list[Any]], calibrator: Any, cal_note: str,
               how: str, ledger: Ledger, scale: Any) -> list[dict]:
    """Every judge and constant on the same ``done`` test pairs, then the published references."""
    from tasks.calibrate import calibrated_outputs, score_outputs

    n = len(done)
    rows = constant_rows(train, done, scale)
    base = outputs["baseline"]
    rows += metric_rows("baseline judge", with_parsed_nmse(score_outputs(base, done, scale), base, done, scale.span),
                        ledger.data.get("baseline"), n, "zero-shot hand-written instruction")
    if calibrator is not None:
        cal = calibrated_outputs(base, calibrator)
        rows += metric_rows("calibrated baseline", with_parsed_nmse(score_outputs(cal, done, scale), cal, done, scale.span),
                            None, n, f"{cal_note}; reuses the baseline's test outputs (0 calls)")
    else:
        rows.append({"benchmark": BENCH, "metric": "calibrated baseline", "value": "n/a", "target": "", "note": cal_note})
    fit = ledger.data.get("calibration fit")
    if fit:
        rows.append({"benchmark": BENCH, "metric": "calibration fit: LM calls on train", "value": int(fit["calls"]),
                     "target": "", "note": f"{fit['seconds']:.0f} s"})
    opt = outputs["optimized"]
    rows += metric_rows("optimized judge", with_parsed_nmse(score_outputs(opt, done, scale), opt, done, scale.span),
                        ledger.data.get("optimized"), n, how)
    rows.append({"benchmark": BENCH, "metric": "optimization wall s", "value": round(ledger.data.get("optimization wall s") or 0, 1),
                 "target": "", "note": "library search on dev (first run; later runs replay the cache)"})
    for name, value, note in REFERENCES:
        rows.append({"benchmark": BENCH, "metric": name, "value": value, "target": "reference", "note": note})
    return rows


def write_table(rows: list[dict], quick: bool) -> Path:
    from bench.__main__ import to_markdown

    out = REPO / ".bench" / ("real_data_quick.md" if quick else "real_data.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Real-data benchmark ({'quick' if quick else 'full'})\n\n"
        f"LLMJudge dev data (TREC DL 2023 passages, NIST labels 0-3), seeded query-grouped sample, "
        f"judged by the embedded Gemma 3 270M base model. Reproduce: `python -m bench.bench_real{' --quick' if quick else ''}`.\n\n"
    )
    out.write_text(header + to_markdown(rows) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bench_real", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~40 test pairs, a smoke run")
    args = parser.parse_args()
    from bench.__main__ import to_markdown

    print(to_markdown(run(quick=args.quick)))
