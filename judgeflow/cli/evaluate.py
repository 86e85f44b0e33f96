"""CLI commands: evaluate, lm serve."""

from __future__ import annotations
