"""A local Prefect server on 127.0.0.1 with everything deployments need to run.

`judgeflow serve` and `judgeflow quickstart` use this: the server keeps its SQLite database in
PREFECT_HOME under settings.home, the process work pool is created, prefect.yaml is deployed
and one worker runs flows in subprocesses. Every child process is started here and stopped
by its own id; nothing reaches past 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from judgeflow.config import Settings
from judgeflow.errors import JudgeflowError

WORK_POOL = "judgeflow-process"
PROJECT_DIR = Path(__file__).resolve().parent.parent


class ServerError(JudgeflowError):
    """The local Prefect server, deploy or worker could not be started."""


@dataclass
class LocalPrefect:
    """The processes of a local Prefect setup and the addresses to reach it."""

    port: int
    home: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, settings: Settings) -> dict[str, str]:
        """Environment for every Prefect client, CLI and worker of this setup."""
        home = Path(settings.home).resolve()
        env = dict(os.environ)
        env.update(
            {
                "PREFECT_HOME": str(self.home),
                "PREFECT_API_URL": self.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
                "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "prefect-results"),
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "JUDGEFLOW_HOME": str(home),
                "JUDGEFLOW_PROJECT_DIR": str(PROJECT_DIR),
            }
        )
        if settings.db_path is not None:
            env["JUDGEFLOW_DB"] = str(Path(settings.db_path).resolve())
        return env

    def stop(self) -> None:
        """Stop the children this setup started, newest first, each by its own process group."""
        for proc in reversed(self.processes):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGKILL)
        self.processes.clear()


def _prefect_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *args]


def is_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(settings: Settings, port: int = 4200, timeout_s: float = 90.0) -> LocalPrefect:
    """Start (or reuse) `prefect server start` on 127.0.0.1:port with PREFECT_HOME under home."""
    home = (Path(settings.home) / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    local = LocalPrefect(port=port, home=home)
    if is_healthy(local.api_url):
        return local
    log = (home / "server.log").open("ab")
    env = local.env(settings)
    env.pop("PREFECT_API_URL")  # the server itself must not point at an API
    proc = subprocess.Popen(
        _prefect_cmd("server", "start", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    local.processes.append(proc)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"prefect server exited with code {proc.returncode}; see {home / 'server.log'}")
        if is_healthy(local.api_url):
            return local
        time.sleep(0.5)
    local.stop()
    raise ServerError(f"prefect server did not answer on {local.api_url} within {timeout_s:.0f} s; see {home / 'server.log'}")


def _run(local: LocalPrefect, settings: Settings, *args: str) -> None:
    result = subprocess.run(
        _prefect_cmd(*args), env=local.env(settings), cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ServerError(f"`prefect {' '.join(args)}` failed: {tail[0]}")


def deploy(local: LocalPrefect, settings: Settings) -> None:
    """Create the process work pool and apply every deployment in prefect.yaml."""
    _run(local, settings, "work-pool", "create", WORK_POOL, "--type", "process", "--overwrite")
    _run(local, settings, "--no-prompt", "deploy", "--all")


def start_worker(local: LocalPrefect, settings: Settings) -> subprocess.Popen:
    """One process worker on the judgeflow pool; its flow runs inherit the judgeflow env."""
    log = (local.home / "worker.log").open("ab")
    proc = subprocess.Popen(
        _prefect_cmd("worker", "start", "--pool", WORK_POOL),
        env=local.env(settings),
        cwd=PROJECT_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    local.processes.append(proc)
    return proc


def _pid_file(settings: Settings) -> Path:
    return (Path(settings.home) / "prefect" / "processes.json").resolve()


def record(local: LocalPrefect, settings: Settings) -> None:
    """Remember the children's pids so `judgeflow serve --stop` can stop a detached setup."""
    import json

    entries = [{"pid": p.pid, "args": " ".join(map(str, p.args[-4:]))} for p in local.processes]
    _pid_file(settings).write_text(json.dumps({"port": local.port, "processes": entries}), encoding="utf-8")


def stop_recorded(settings: Settings) -> str | None:
    """Stop the processes `record` wrote down (each by its own process group); say what was stopped."""
    import json

    path = _pid_file(settings)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    stopped = []
    for entry in reversed(data.get("processes", [])):
        try:
            os.killpg(int(entry["pid"]), signal.SIGTERM)
            stopped.append(str(entry["pid"]))
        except ProcessLookupError:
            continue
    path.unlink()
    return f"stopped Prefect processes {', '.join(stopped)}" if stopped else "the recorded processes had already exited"
