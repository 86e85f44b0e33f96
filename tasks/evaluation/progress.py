"""Progress of a long evaluation: a bar on a terminal, log lines inside a Prefect run."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

_LOG = logging.getLogger("judgeflow.evaluate")


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run, else the module logger."""
    try:
        from prefect import get_run_logger
        from prefect.exceptions import MissingContextError

        try:
            return get_run_logger()
        except MissingContextError:
            return _LOG
    except ImportError:  # pragma: no cover - prefect is a dependency
        return _LOG


class Progress:
    """Counts finished examples; draws a stderr bar on a TTY and logs every quarter."""

    WIDTH = 30

    def __init__(self, total: int, *, label: str = "", enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label or "evaluate"
        self.stream = stream or sys.stderr
        self.draw = enabled and total > 0 and _isatty(self.stream)
        self.log = enabled and total > 0
        self.done = 0
        self.lm_errors = 0
        self.cached = 0
        self.started = time.perf_counter()
        self._next_log = 0.25
        self._last_draw = 0.0
        self._logger = run_logger()

    def advance(self, n: int = 1, *, lm_errors: int = 0, cached: int = 0) -> None:
        self.done += n
        self.lm_errors += lm_errors
        self.cached += cached
        now = time.perf_counter()
        if self.draw and (now - self._last_draw > 0.1 or self.done >= self.total):
            self._last_draw = now
            self.stream.write("\r" + self.line())
            self.stream.flush()
        if self.log and self.done / self.total >= self._next_log:
            while self.done / self.total >= self._next_log:
                self._next_log += 0.25
            self._logger.info(self.line())

    def close(self) -> None:
        if self.draw:
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} "
            f"{fraction:4.0%} {rate:6.1f} ex/s cached {self.cached} lm_errors {self.lm_errors}"
        )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
