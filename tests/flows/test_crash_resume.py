"""Kill the weekly flow's process at random points; the rerun must finish like a clean run.

A child process runs ``weekly_judge_refresh`` against the session's Prefect API and a loopback
fake LM served from this process. A clean run in its own home gives the reference store. In a
second home the child is SIGKILLed at random moments of the flow (at least 10 times), the
champion pointer is checked after every kill, and a last run goes to completion. This is the
slow test of the suite (about two minutes: each child pays Python's imports); it stays away
from the alerts (see test_weekly.py) and from timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tasks.artifacts import ArtifactStore
from tasks.champion import list_versions, read_champion, read_pointer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.flows.scenario import RuleFake, annotation_rows, write_weeks

pytestmark = pytest.mark.prefect_server

PROJECT = Path(__file__).resolve().parents[2]
KILLS = 10

# A fork server: pays the imports once, then forks one flow process per "RUN" line, so a kill
# point is a moment of the flow, not of Python's start-up.
FORK_SERVER = """
import os, sys
import great_expectations, dspy, litellm  # noqa: the expensive imports, before any fork
from flows.params import BudgetParams, LMParams
from flows.weekly import weekly_judge_refresh
from tasks.gate import GateThresholds
import tasks.ingest, tasks.validate, tasks.evaluate, tasks.optimize, tasks.optimizers.library
api_base, data_dir, week = sys.argv[1:4]
lm = LMParams(model="openai/fake-judge", api_base=api_base, max_retries=0, timeout_s=10, concurrency=4)
print("READY", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        try:
            weekly_judge_refresh(week=week, data_dir=data_dir, judge_lm=lm, reflection_lm=lm,
                                 budget=BudgetParams(max_calls=5000), gate=GateThresholds(n_boot=300))
            code = 0
        except BaseException:
            code = 1
        sys.stdout.flush()
        os._exit(code)
    print(f"PID {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    print(f"EXIT {os.waitstatus_to_exitcode(status)}", flush=True)
"""


class ForkServer:
    """The fork-server process for one judgeflow home."""

    def __init__(self, home: Path, api_url: str, server: FakeOpenAIServer, data_dir: Path, week: str) -> None:
        env = dict(os.environ)
        env.update({
            "JUDGEFLOW_HOME": str(home),
            "PREFECT_API_URL": api_url,
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "prefect-results"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "DSPY_CACHEDIR": str(home / "dspy-cache"),
            "PYTHONPATH": str(PROJECT),
        })
        env.pop("JUDGEFLOW_SLACK_WEBHOOK_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER, server.api_base, str(data_dir), week],
            env=env, cwd=home.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", f"fork server did not start: {line!r}"

    def run(self, kill_after: float | None = None) -> tuple[bool, float]:
        """One flow run; SIGKILL it after ``kill_after`` seconds. Returns (killed, seconds)."""
        self.proc.stdin.write("RUN\n")
        self.proc.stdin.flush()
        pid = int(self.proc.stdout.readline().split()[1])
        began = time.monotonic()
        timer = threading.Timer(kill_after, _kill, (pid,)) if kill_after is not None else None
        if timer:
            timer.start()
        code = int(self.proc.stdout.readline().split()[1])
        if timer:
            timer.cancel()
        seconds = time.monotonic() - began
        assert code in (0, -signal.SIGKILL), f"flow run exited with {code}"
        return code == -signal.SIGKILL, seconds

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it finished first


def _digest(home: Path) -> dict:
    """What must be equal between a clean run and a crashed-then-resumed one."""
    from judgeflow.store import open_store

    store = ArtifactStore(home / "artifacts")
    versions = [(v.version, v.week, v.status, v.parent, v.sha256) for v in list_versions(store)]
    pointer = read_pointer(store)
    with open_store(home / "judgeflow.duckdb", read_only=True) as con:
        tables = {
            "annotations": con.execute("SELECT annotation_id, rating, week FROM annotations ORDER BY 1").fetchall(),
            "production": con.execute("SELECT count(*) FROM production_samples").fetchone()[0],
            "quarantine": con.execute("SELECT source, source_row, reason_code FROM quarantine ORDER BY 1, 2, 3").fetchall(),
            "splits": con.execute("SELECT query_key, split FROM splits ORDER BY 1").fetchall(),
        }
    blob = json.dumps(tables, default=str, sort_keys=True).encode()
    return {"versions": versions, "pointer": pointer and (pointer["version"], pointer["sha256"]),
            "tables_sha256": hashlib.sha256(blob).hexdigest()}


def _pointer_is_whole(home: Path) -> bool:
    """The pointer is absent or names a complete version whose program.json matches its sha256."""
    store = ArtifactStore(home / "artifacts")
    return read_pointer(store) is None or read_champion(store) is not None


def test_a_flow_killed_at_ten_random_points_resumes_to_the_same_store_as_a_clean_run(prefect_api, tmp_path):
    data_dir = tmp_path / "inbox"
    weeks = write_weeks(data_dir, weeks=1, per_week=80)
    rows = annotation_rows(data_dir, weeks)
    fake = RuleFake(rows, helped={r.id for r in rows if r.split in ("dev", "test") and r.gold >= 3})
    rng = random.Random(20261123)
    with FakeOpenAIServer(fake, latency=0.01) as server:
        clean_home = tmp_path / "clean" / ".judgeflow"
        clean_home.parent.mkdir()
        clean_server = ForkServer(clean_home, prefect_api, server, data_dir, weeks[0])
        killed, duration = clean_server.run()
        clean_server.close()
        assert not killed
        clean = _digest(clean_home)
        assert [v[2] for v in clean["versions"]] == ["promoted", "promoted"]

        home = tmp_path / "crashy" / ".judgeflow"
        home.parent.mkdir()
        crashy = ForkServer(home, prefect_api, server, data_dir, weeks[0])
        killed_at: list[float] = []
        horizon = duration  # kill points fall inside the run; a resumed run is shorter
        for _ in range(4 * KILLS):
            if len(killed_at) >= KILLS:
                break
            delay = rng.uniform(0.0, horizon)
            killed, seconds = crashy.run(kill_after=delay)
            if killed:
                killed_at.append(round(delay, 2))
            else:
                horizon = seconds
            assert _pointer_is_whole(home), f"pointer names a partial version after a kill at {delay:.2f} s"
        killed, _ = crashy.run()
        crashy.close()

    assert not killed
    assert len(killed_at) >= KILLS, f"killed only at {killed_at}"
    assert _digest(home) == clean
