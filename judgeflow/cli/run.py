"""CLI commands: run, serve, quickstart."""

from __future__ import annotations
