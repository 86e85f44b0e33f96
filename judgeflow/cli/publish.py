"""CLI commands: history, rollback."""

from __future__ import annotations
